/**
 * CALL refresh_continuous_aggregate beside the refresh policies. TimescaleDB 2.28.3 and 2.29.2
 * refuse a refresh whose window overlaps one in progress (SQLSTATE 55P03, "due to a concurrent
 * refresh") where 2.22.1 waited for it. The background workers run the refresh policies on their
 * own: in a freshly restored copy they start at once, so a drill's full refresh meets them, and a
 * seed's refresh of recent days can meet the hourly policy. A refresh that a policy job's locks
 * made a deadlock victim runs again too (deadlockRetry.ts).
 */
import { DEADLOCK_ATTEMPTS, deadlockPause, isDeadlockVictim } from './deadlockRetry.js';

/** How long a refresh waits for another one over the same window (a policy's run) to end. */
const CONCURRENT_REFRESH_WAIT_MS = 300_000;

interface Session {
  query(text: string, params?: unknown[]): Promise<unknown>;
}

function isConcurrentRefresh(error: unknown): boolean {
  return (error as { code?: string }).code === '55P03' && /concurrent refresh/.test((error as Error).message);
}

/** Runs `call` (a CALL refresh_continuous_aggregate), again while another refresh holds the window. */
export async function refreshWaitingOutOthers(session: Session, call: string, params?: unknown[]): Promise<void> {
  const deadline = performance.now() + CONCURRENT_REFRESH_WAIT_MS;
  let deadlocks = 0;
  for (let pause = 100; ; pause = Math.min(pause * 2, 2_000)) {
    try {
      await session.query(call, params);
      return;
    } catch (error) {
      // A refresh is safe to repeat: a deadlock victim (a policy job crossed it) runs again too.
      if (isDeadlockVictim(error) && ++deadlocks < DEADLOCK_ATTEMPTS) {
        await deadlockPause(deadlocks);
        continue;
      }
      if (!isConcurrentRefresh(error) || performance.now() + pause > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}
