/**
 * Running a transaction again when PostgreSQL chose it as a deadlock victim.
 *
 * TimescaleDB's policy jobs lock tables in their own order. A retention job locks every table its
 * hypertable references ACCESS EXCLUSIVE, in constraint-name order, even when it has nothing to
 * drop (lock_referenced_tables in src/chunk.c): devices, then rate_schedules for cost_calculations.
 * A new database's scheduler starts every policy at once, seconds after migrate, and a seed
 * upserts rate_schedules before devices. PostgreSQL breaks such a cycle by failing one of the
 * transactions (SQLSTATE 40P01; 40001 for a serialization failure), which rolls back whole, and
 * its documentation asks the application to run it again. Only for work that is safe to repeat.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { OpsError } from './errors.js';
import type { Logger } from './logger.js';

/** Runs in all; a victim five times in a row is not bad luck but a session that keeps crossing us. */
export const DEADLOCK_ATTEMPTS = 5;

export function isDeadlockVictim(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/**
 * A random pause that grows with the attempt, so the other transaction finishes meanwhile and two
 * victims do not meet again in step.
 */
export function deadlockPause(attempt: number): Promise<void> {
  return sleep(Math.round((100 + Math.random() * 200) * attempt));
}

export interface DeadlockRetryOptions {
  logger: Logger;
  /** Stops retrying once aborted: the victim's error is thrown instead. */
  signal?: AbortSignal;
  attempts?: number;
}

/**
 * Runs `transaction` (BEGIN ... COMMIT, rolled back on error) until it is not a deadlock victim.
 * `what` names it in the warning and in the final error, e.g. "seed: the reference rows' transaction".
 */
export async function retryingDeadlocks<T>(what: string, transaction: () => Promise<T>, options: DeadlockRetryOptions): Promise<T> {
  const attempts = options.attempts ?? DEADLOCK_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction();
    } catch (error) {
      if (!isDeadlockVictim(error) || options.signal?.aborted) throw error;
      if (attempt >= attempts) {
        throw new OpsError('LOCK_HELD', `${what} was chosen as a deadlock victim ${attempts} times in a row: another session keeps taking the same locks in the other order (the server log names it); run the command again once that session has finished`, { cause: error });
      }
      options.logger.warn(`${what} was chosen as a deadlock victim (another session, such as a TimescaleDB policy job, took the same locks in the other order); running it again (attempt ${attempt + 1} of ${attempts})`);
    }
    await deadlockPause(attempt);
  }
}
