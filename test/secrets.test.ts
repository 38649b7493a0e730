// Issue 17, item 7: every secret the process learns is blanked by value, whichever way it came
// and whichever way it would leave (console lines, JSON log lines, errors, files written through
// redact()). Each case gives a secret one way and looks for it everywhere it could come out.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleLogger, jsonLogger, memoryLogger, parseDatabaseUrl, redact, rememberEnvironmentSecrets, rememberUrlSecrets } from '../ops/lib/index.js';
import { readPasswordFile } from '../ops/lib/embedded/password.js';

/** Everything each logger writes for a message and fields that carry `secret`. */
function everyOutput(secret: string): string[] {
  const out: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (c: Buffer) => out.push(c.toString()));
  const console = consoleLogger(stream as unknown as NodeJS.WriteStream);
  const json = jsonLogger((line) => out.push(line));
  const memory = memoryLogger();
  for (const logger of [console, json, memory]) {
    logger.info(`connecting with ${secret}`, { error: `server said: "${secret}"`, nested: { url: `https://x/${secret}` } });
    logger.warn(`warn ${secret}`);
    logger.error(`error ${secret}`);
  }
  out.push(...memory.lines, redact(`an error naming ${secret} and ${encodeURIComponent(secret)}`));
  return out;
}

describe('every secret, given each way, is absent from every output', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aetherlens-secrets-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const ways: [string, () => Promise<string>][] = [
    ['the password in DATABASE_URL', async () => {
      const secret = 'url-Pass/word:1"x';
      parseDatabaseUrl(`postgres://app:${encodeURIComponent(secret)}@db.example:5432/aetherlens`);
      return secret;
    }],
    ['PGPASSWORD beside a URL without a password', async () => {
      const secret = 'pgpassword-from-env-2';
      rememberEnvironmentSecrets({ PGPASSWORD: secret });
      return secret;
    }],
    ['DATABASE_URL in the environment (before it is parsed)', async () => {
      const secret = 'env-url-password-3';
      rememberEnvironmentSecrets({ DATABASE_URL: `postgresql://postgres:${secret}@h/db` });
      return secret;
    }],
    ['the admin password', async () => {
      const secret = 'admin-password-4';
      rememberEnvironmentSecrets({ AETHERLENS_ADMIN_PASSWORD: secret });
      return secret;
    }],
    ['a password file (local serve, a container secret)', async () => {
      const secret = 'file-password-5';
      await writeFile(join(dir, 'password'), `${secret}\n`, { mode: 0o600 });
      expect(await readPasswordFile(join(dir, 'password'))).toBe(secret);
      return secret;
    }],
    ['the token of a ping URL', async () => {
      const secret = '0f6c1e2a-5b7d-4c1e-9a3f-8d2b6e4c7a11';
      rememberUrlSecrets(`https://hc-ping.com/${secret}`);
      return secret;
    }],
    ['the token of a webhook URL in the environment', async () => {
      const secret = 'XoXoWebhookToken0123456789';
      rememberEnvironmentSecrets({ AETHERLENS_WEBHOOK_URL: `https://hooks.example/services/T0/B0/${secret}?x=1` });
      return secret;
    }],
  ];

  it.each(ways)('%s', async (_way, give) => {
    const secret = await give();
    const outputs = everyOutput(secret);
    expect(outputs.length).toBeGreaterThan(9);
    for (const text of outputs) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(encodeURIComponent(secret));
      expect(text).toContain('***');
    }
  });

  it('leaves ordinary text alone', () => {
    expect(redact('backup 20261125T020000Z-aetherlens written: 5 B')).toBe('backup 20261125T020000Z-aetherlens written: 5 B');
  });
});
