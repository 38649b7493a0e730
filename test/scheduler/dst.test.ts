import { afterEach, describe, expect, test } from 'vitest';
import { matcherFor } from '../../ops/lib/scheduler/cron.js';
import { intervalSeconds, nextDstGapRun, plannedRuns, type Clock } from '../../ops/lib/scheduler/planner.js';
import { startTicker, type Ticker } from '../../ops/lib/scheduler/ticker.js';
import { memoryLogger } from '../../ops/lib/logger.js';

const berlin = (expression: string) => ({ expression, timezone: 'Europe/Berlin' });
const iso = (runs: Array<{ at: Date; reason: string }>) => runs.map((r) => `${r.at.toISOString()} ${r.reason}`);

/** A clock that reads `start` now and then moves with real time. */
const clockAt = (start: string): Clock => {
  const offset = Date.parse(start) - Date.now();
  return { now: () => Date.now() + offset };
};

describe('daylight saving time in the configured zone', () => {
  // 2026-03-29: Europe/Berlin jumps from 02:00 CET to 03:00 CEST (01:00 UTC); 02:30 does not exist.
  test('node-cron alone skips a 02:30 slot on the spring-forward day (what we fix)', () => {
    const m = matcherFor(berlin('30 2 * * *'));
    const after28 = m.getNextMatch(new Date('2026-03-28T01:30:00Z'));
    expect(after28.toISOString()).toBe('2026-03-30T00:30:00.000Z');
  });

  test('our plan runs it once, at the moment the clock jumps (03:00 CEST)', () => {
    expect(iso(plannedRuns(berlin('30 2 * * *'), new Date('2026-03-27T12:00:00Z'), 4))).toEqual([
      '2026-03-28T01:30:00.000Z cron', // 02:30 CET
      '2026-03-29T01:00:00.000Z dst-gap', // 03:00 CEST: the skipped 02:30, once
      '2026-03-30T00:30:00.000Z cron', // 02:30 CEST
      '2026-03-31T00:30:00.000Z cron',
    ]);
    // Several slots inside the skipped hour still make one run.
    expect(iso(plannedRuns(berlin('*/15 2 * * *'), new Date('2026-03-29T00:40:00Z'), 2))).toEqual(['2026-03-29T01:00:00.000Z dst-gap', '2026-03-30T00:00:00.000Z cron']);
    // New York jumps at 02:00 EST → 03:00 EDT (07:00 UTC) on 2026-03-08.
    expect(nextDstGapRun({ expression: '0 2 * * *', timezone: 'America/New_York' }, new Date('2026-03-01T00:00:00Z'), 20 * 86_400_000)?.toISOString()).toBe('2026-03-08T07:00:00.000Z');
  });

  test('no extra run when node-cron fires at the jump anyway, or when the slot is not on that day', () => {
    expect(iso(plannedRuns(berlin('*/15 * * * *'), new Date('2026-03-29T00:40:00Z'), 3))).toEqual([
      '2026-03-29T00:45:00.000Z cron',
      '2026-03-29T01:00:00.000Z cron',
      '2026-03-29T01:15:00.000Z cron',
    ]);
    // Mondays only: 2026-03-29 is a Sunday, so nothing was skipped.
    expect(nextDstGapRun(berlin('30 2 * * 1'), new Date('2026-03-28T00:00:00Z'))).toBeUndefined();
    // 01:30 is before the jump and exists.
    expect(nextDstGapRun(berlin('30 1 * * *'), new Date('2026-03-28T00:00:00Z'))).toBeUndefined();
  });

  // 2026-10-25: Europe/Berlin falls back from 03:00 CEST to 02:00 CET; 02:30 happens twice.
  test('the repeated hour in autumn runs once (node-cron matches the wall-clock slot at its second occurrence)', () => {
    const runs = plannedRuns(berlin('30 2 * * *'), new Date('2026-10-23T12:00:00Z'), 4);
    expect(iso(runs)).toEqual([
      '2026-10-24T00:30:00.000Z cron', // 02:30 CEST
      '2026-10-25T01:30:00.000Z cron', // 02:30 CET, once (00:30 UTC, the first 02:30, is not a run)
      '2026-10-26T01:30:00.000Z cron',
      '2026-10-27T01:30:00.000Z cron',
    ]);
    // Starting inside the first 02:xx pass changes nothing: still one run that night.
    expect(iso(plannedRuns(berlin('30 2 * * *'), new Date('2026-10-25T00:10:00Z'), 1))).toEqual(['2026-10-25T01:30:00.000Z cron']);
  });

  test('the interval (for catch-up and staleness) is not distorted by the DST days', () => {
    expect(intervalSeconds(berlin('30 2 * * *'), new Date('2026-03-20T12:00:00Z'))).toBe(24 * 3600);
    expect(intervalSeconds(berlin('30 2 * * *'), new Date('2026-10-20T12:00:00Z'))).toBe(25 * 3600);
    expect(intervalSeconds({ expression: '0 2 * * 1-5', timezone: 'UTC' }, new Date('2026-11-02T12:00:00Z'))).toBe(72 * 3600);
  });

  describe('the ticker with an injected clock', () => {
    let ticker: Ticker | undefined;
    afterEach(() => ticker?.stop());

    test('one second before the jump, the skipped 02:30 fires once at 03:00 CEST, and the plan shows it', async () => {
      const clock = clockAt('2026-03-29T00:59:59.000Z');
      const ticks: string[] = [];
      const logger = memoryLogger();
      await new Promise<void>((resolve) => {
        ticker = startTicker({
          name: 'backup',
          schedule: berlin('30 2 * * *'),
          clock,
          logger,
          onTick: (reason, slot) => {
            ticks.push(`${reason} ${slot.toISOString()}`);
            resolve();
          },
        });
        expect(iso(ticker.next(2))).toEqual(['2026-03-29T01:00:00.000Z dst-gap', '2026-03-30T00:30:00.000Z cron']);
      });
      await new Promise((r) => setTimeout(r, 1500));
      expect(ticks).toEqual(['dst-gap 2026-03-29T01:00:00.000Z']);
      expect(iso(ticker!.next(1))).toEqual(['2026-03-30T00:30:00.000Z cron']);
    });
  });
});
