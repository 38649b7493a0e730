import cron from 'node-cron';
import type { Logger } from '../logger.js';
import type { CronSchedule } from './cron.js';
import { nextDstGapRun, plannedRuns, type Clock, type PlannedRun } from './planner.js';

export interface Ticker {
  /** The next runs, DST replacements included. */
  next(count: number): PlannedRun[];
  stop(): void;
}

export interface TickerOptions {
  name: string;
  schedule: CronSchedule;
  clock: Clock;
  logger: Logger;
  /** Called on each tick; must not throw and must not wait for the work it starts. */
  onTick(reason: 'schedule' | 'dst-gap', slot: Date): void;
  /** Called when node-cron reports ticks it could not fire (process suspended, clock jumped). */
  onMissed?(slot: Date): void;
}

const DAY_MS = 24 * 3_600_000;
/** A tick that comes this late still runs: the in-process embedded engine can hold the event loop. */
const LATE_TOLERANCE_MS = 60_000;

/**
 * A node-cron task in the schedule's time zone, plus one timer for the slots node-cron skips
 * when daylight saving time jumps forward (see planner.ts). node-cron's own overlap handling is
 * not used: the scheduler's single flight decides, and logs, what runs.
 */
export function startTicker(options: TickerOptions): Ticker {
  const { schedule, clock, logger } = options;
  const cronLogger = {
    info: (m: string) => logger.info(`node-cron: ${m}`, { event: 'cron.log', task: options.name }),
    warn: (m: string) => logger.warn(`node-cron: ${m}`, { event: 'cron.log', task: options.name }),
    error: (m: string | Error) => logger.error(`node-cron: ${m instanceof Error ? m.message : m}`, { event: 'cron.log', task: options.name }),
    debug: () => {},
  };
  const task = cron.schedule(schedule.expression, (context) => options.onTick('schedule', context.date), {
    timezone: schedule.timezone,
    name: `aetherlens-${options.name}`,
    missedExecutionTolerance: LATE_TOLERANCE_MS,
    logger: cronLogger,
  });
  task.on('execution:missed', (context) => options.onMissed?.(context.date));

  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const armGapTimer = () => {
    if (stopped) return;
    const now = clock.now();
    const gap = nextDstGapRun(schedule, new Date(now), 2 * DAY_MS);
    // Without a gap in the next two days, look again tomorrow (timers cannot wait for months).
    const delay = gap ? gap.getTime() - now : DAY_MS;
    timer = setTimeout(() => {
      if (gap && clock.now() >= gap.getTime() - 1000) options.onTick('dst-gap', gap);
      armGapTimer();
    }, Math.max(0, Math.min(delay, DAY_MS)));
  };
  armGapTimer();

  return {
    next: (count) => plannedRuns(schedule, new Date(clock.now()), count),
    stop() {
      stopped = true;
      clearTimeout(timer);
      void task.destroy();
    },
  };
}
