import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createNotifier, type FailurePayload } from '../../ops/lib/scheduler/notify.js';
import { memoryLogger } from '../../ops/lib/logger.js';
import { rememberSecret } from '../../ops/lib/secrets.js';
import { startReceiver } from './support/receiver.js';

const payload: FailurePayload = {
  event: 'aetherlens.backup.failed',
  text: 'aetherlens-db: backup failed on postgres://app:***@db:5432/aetherlens: connection refused',
  target: 'postgres://app:***@db:5432/aetherlens',
  host: 'h',
  job: 'backup',
  run: 'r1',
  trigger: 'schedule',
  step: 'backup',
  error: 'connection refused',
  at: '2026-11-25T02:00:00.000Z',
  lastVerified: null,
};

describe('signals: healthchecks-style ping and failure webhook, against a real HTTP receiver', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver.close();
  });

  test('pings /start, the bare URL and /fail in the order given; the webhook gets the JSON', async () => {
    const logger = memoryLogger();
    const n = createNotifier({ pingUrl: `${receiver.url}/ping/ok-uuid`, webhookUrl: `${receiver.url}/hook/ok`, timeoutMs: 2000, retries: 0, logger });
    n.ping('start');
    n.ping('success');
    n.ping('start');
    n.ping('fail');
    n.failure(payload);
    await n.settle(5000);
    expect(receiver.paths().filter((p) => p.includes('ok-uuid'))).toEqual(['GET /ping/ok-uuid/start', 'GET /ping/ok-uuid', 'GET /ping/ok-uuid/start', 'GET /ping/ok-uuid/fail']);
    const hook = receiver.requests.find((r) => r.path === '/hook/ok')!;
    expect(hook.method).toBe('POST');
    expect(JSON.parse(hook.body)).toEqual(payload);
    expect(logger.lines).toEqual([]);
  });

  test('the webhook carries no secret the process knows, in any field, and stays valid JSON', async () => {
    const secret = 'hook-secret-"quoted\\-9f2c';
    rememberSecret(secret);
    const n = createNotifier({ webhookUrl: `${receiver.url}/hook/redacted`, timeoutMs: 2000, retries: 0, logger: memoryLogger() });
    n.failure({ ...payload, target: `server named ${secret}`, error: `database "${secret}" does not exist`, text: `backup failed: ${secret}` });
    await n.settle(5000);
    const hook = receiver.requests.find((r) => r.path === '/hook/redacted')!;
    expect(hook.body).not.toContain('hook-secret');
    const body = JSON.parse(hook.body) as FailurePayload;
    expect(body.target).toBe('server named ***');
    expect(body.error).toBe('database "***" does not exist');
  });

  test('a ping URL that hangs neither blocks nor throws: timeout, retries, one warning without the URL\'s token', async () => {
    receiver.set('/ping/hang-uuid/start', 'hang');
    const logger = memoryLogger();
    const n = createNotifier({ pingUrl: `${receiver.url}/ping/hang-uuid`, timeoutMs: 300, retries: 2, backoffMs: 50, logger });
    const t0 = performance.now();
    n.ping('start');
    expect(performance.now() - t0).toBeLessThan(50); // returns at once: the backup goes on
    await receiver.waitFor((r) => r.filter((x) => x.path === '/ping/hang-uuid/start').length === 3, 10_000);
    await n.settle(5000);
    const took = performance.now() - t0;
    expect(took).toBeGreaterThan(900); // 3 attempts × 300 ms + backoff
    expect(took).toBeLessThan(3000);
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toBe('warning: signal.failed');
  });

  test('a webhook answering 500 is retried, then logged (origin only); a 404 is not retried', async () => {
    receiver.set('/hook/broken-token', 500);
    receiver.set('/hook/gone-token', 404);
    const lines: string[] = [];
    const { jsonLogger } = await import('../../ops/lib/logger.js');
    const logger = jsonLogger((l) => lines.push(l));
    const n = createNotifier({ webhookUrl: `${receiver.url}/hook/broken-token`, timeoutMs: 1000, retries: 2, backoffMs: 20, logger });
    n.failure(payload);
    await n.settle(5000);
    expect(receiver.requests.filter((r) => r.path === '/hook/broken-token')).toHaveLength(3);
    const gone = createNotifier({ webhookUrl: `${receiver.url}/hook/gone-token`, timeoutMs: 1000, retries: 2, backoffMs: 20, logger });
    gone.failure(payload);
    await gone.settle(5000);
    expect(receiver.requests.filter((r) => r.path === '/hook/gone-token')).toHaveLength(1);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged.map(({ time: _t, ...rest }) => rest)).toEqual([
      { level: 'warn', msg: 'signal.failed', event: 'signal.failed', signal: 'webhook', to: `${receiver.url}/…`, error: 'HTTP 500', attempts: 3 },
      { level: 'warn', msg: 'signal.failed', event: 'signal.failed', signal: 'webhook', to: `${receiver.url}/…`, error: 'HTTP 404', attempts: 1 },
    ]);
    expect(lines.join('')).not.toContain('token');
  });

  test('nothing listening: connection refused is retried and logged, never thrown', async () => {
    const logger = memoryLogger();
    const n = createNotifier({ pingUrl: 'http://127.0.0.1:1/nobody', timeoutMs: 500, retries: 1, backoffMs: 10, logger });
    n.ping('fail');
    await n.settle(5000);
    expect(logger.lines).toEqual(['warning: signal.failed']);
  });
});
