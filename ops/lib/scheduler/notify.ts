import type { Logger } from '../logger.js';
import { redactStrings } from '../secrets.js';

/** What a failure webhook receives: JSON, with `text` so Slack/Mattermost hooks show it as is. */
export interface FailurePayload {
  event: 'aetherlens.backup.failed' | 'aetherlens.jobs.failed' | 'aetherlens.job.failed';
  text: string;
  target: string;
  host: string;
  /** The job script that failed. */
  job: string;
  run: string;
  trigger: string;
  step: string;
  error: string;
  at: string;
  lastVerified: { name: string; createdAt: string } | null;
}

export interface Notifier {
  /** healthchecks-style ping: GET <url>/start, <url>, <url>/fail. Never throws, never waits. */
  ping(kind: 'start' | 'success' | 'fail'): void;
  /** JSON POST to the webhook on failure. Never throws, never waits. */
  failure(payload: FailurePayload): void;
  /** Waits for signals still in flight, at most `ms`, then cancels them (at shutdown). */
  settle(ms: number): Promise<void>;
}

export interface NotifierOptions {
  pingUrl?: string;
  webhookUrl?: string;
  /** Per attempt. */
  timeoutMs: number;
  /** Extra attempts after the first, for network errors, timeouts, 429 and 5xx. */
  retries: number;
  /** First pause between attempts; doubles each time. */
  backoffMs?: number;
  logger: Logger;
}

/** Ping and webhook URLs carry tokens: logs show only where they go. */
export function safeUrl(url: string): string {
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * Signals to the outside. Each request has a short timeout and a few retries, runs in the
 * background, and only logs when it finally fails: a monitoring outage must never block or fail
 * a backup.
 */
export function createNotifier(options: NotifierOptions): Notifier {
  const inFlight = new Set<Promise<void>>();
  const stop = new AbortController();
  const backoff = options.backoffMs ?? 1000;
  let pings: Promise<void> = Promise.resolve();

  const send = async (what: string, url: string, init: RequestInit): Promise<void> => {
    let last = '';
    let attempts = 0;
    for (let attempt = 0; attempt <= options.retries && !stop.signal.aborted; attempt++) {
      attempts += 1;
      if (attempt > 0) await new Promise((r) => setTimeout(r, backoff * 2 ** (attempt - 1)).unref());
      // Our own timer, not AbortSignal.any([AbortSignal.timeout()]): Node 20 may garbage-collect
      // a timeout signal held only by a composite one, and the request then never times out
      // (nodejs/node#57736).
      const attemptAbort = new AbortController();
      const timer = setTimeout(() => attemptAbort.abort(new DOMException('timeout', 'TimeoutError')), options.timeoutMs);
      const onStop = () => attemptAbort.abort(new DOMException('shutdown', 'AbortError'));
      stop.signal.addEventListener('abort', onStop, { once: true });
      try {
        const response = await fetch(url, { ...init, redirect: 'follow', signal: attemptAbort.signal });
        await response.body?.cancel().catch(() => {});
        if (response.ok) return;
        last = `HTTP ${response.status}`;
        if (response.status < 500 && response.status !== 429) break;
      } catch (error) {
        const reason = attemptAbort.signal.aborted ? (attemptAbort.signal.reason as Error) : (error as Error);
        last = reason.name === 'TimeoutError' ? `no answer within ${options.timeoutMs} ms` : reason.name === 'AbortError' ? 'cancelled at shutdown' : (((reason as Error).cause as Error | undefined)?.message ?? reason.message);
      } finally {
        clearTimeout(timer);
        stop.signal.removeEventListener('abort', onStop);
      }
    }
    options.logger.warn('signal.failed', { event: 'signal.failed', signal: what, to: safeUrl(url), error: last, attempts });
  };

  const track = (promise: Promise<void>) => {
    const p = promise.catch(() => {}).finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  return {
    ping(kind) {
      if (!options.pingUrl) return;
      const url = kind === 'success' ? options.pingUrl : `${options.pingUrl}/${kind}`;
      // In order: a fast backup's success ping must not overtake its /start.
      pings = pings.then(() => send(`ping ${kind}`, url, { method: 'GET' }));
      track(pings);
    },
    failure(payload) {
      if (!options.webhookUrl) return;
      // Every string is redacted, as in the JSON log: an error or a target label can carry a secret.
      track(send('webhook', options.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'aetherlens-db' }, body: JSON.stringify(payload, redactStrings) }));
    },
    async settle(ms) {
      if (inFlight.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.allSettled([...inFlight]), new Promise((r) => (timer = setTimeout(r, ms)))]);
        clearTimeout(timer);
      }
      stop.abort();
      await Promise.allSettled([...inFlight]);
    },
  };
}
