import { stat } from 'node:fs/promises';
import type { Logger } from '../logger.js';
import { formatBytes } from './format.js';

/** Runs that finish sooner than this show no progress at all. */
export const PROGRESS_AFTER_MS = 3_000;
export const PROGRESS_EVERY_MS = 1_000;

export interface ProgressTiming {
  afterMs?: number;
  everyMs?: number;
}

/**
 * Reports the size of a file being written and the time elapsed, once a second after the first
 * few seconds, through logger.progress (interactive loggers draw it in place; others ignore it).
 */
export function watchProgress(file: string, logger: Logger, what: string, timing: ProgressTiming = {}): { stop(): void } {
  const afterMs = timing.afterMs ?? PROGRESS_AFTER_MS;
  const started = Date.now();
  let shown = false;
  let stopped = false;
  const timer = setInterval(() => {
    const elapsed = Date.now() - started;
    if (elapsed < afterMs) return;
    void stat(file).then((s) => {
      // A stat still in flight when the run ended must not redraw over the cleared line.
      if (stopped) return;
      shown = true;
      logger.progress(`${what}: ${formatBytes(s.size)} written, ${Math.round(elapsed / 1000)} s`);
    }, () => {});
  }, timing.everyMs ?? PROGRESS_EVERY_MS);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
      if (shown) logger.progress('');
    },
  };
}
