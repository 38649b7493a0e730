import { describe, expect, it } from 'vitest';
import { OpsError } from '../../ops/lib/errors.js';
import { parseInterval, planGeneration, SEED_LIMITS, type GenerateOptions } from '../../ops/lib/seed/options.js';
import { checkAdminPassword } from '../../ops/lib/seed/reference.js';

const defaults = { devices: 3, days: 7, interval: '5m', seed: 20240601 };
const now = Date.parse('2024-07-15T10:37:12Z');

/** The operator-facing message of a USAGE error. */
function usage(options: GenerateOptions): string {
  try {
    planGeneration(options, defaults, now);
  } catch (error) {
    expect(error).toBeInstanceOf(OpsError);
    expect((error as OpsError).code).toBe('USAGE');
    expect((error as OpsError).exitCode).toBe(2);
    return (error as OpsError).message;
  }
  throw new Error('expected a USAGE error');
}

describe('planGeneration', () => {
  it('defaults to the sample: 3 devices × 7 days of 5-minute readings ending now, 6048 rows', () => {
    const plan = planGeneration({}, defaults, now);
    expect(plan).toMatchObject({ devices: 3, days: 7, intervalSeconds: 300, seed: 20240601, readingsPerDevice: 2016, totalReadings: 6048 });
    expect(plan.end.toISOString()).toBe('2024-07-15T10:35:00.000Z');
    expect(plan.start.toISOString()).toBe('2024-07-08T10:35:00.000Z');
  });

  it('truncates an explicit end to the interval', () => {
    const plan = planGeneration({ end: '2024-01-01T12:59:59Z', interval: '1h', days: 1 }, defaults, now);
    expect(plan.end.toISOString()).toBe('2024-01-01T12:00:00.000Z');
    expect(plan.totalReadings).toBe(72);
  });

  it('reads intervals as seconds or with a unit', () => {
    expect([parseInterval(90), parseInterval('90s'), parseInterval('5m'), parseInterval('1h'), parseInterval('1d')]).toEqual([90, 90, 300, 3600, 86400]);
  });

  it('refuses bad values with one line naming the value, the limit and the fix', () => {
    expect(usage({ devices: 0 })).toMatchInlineSnapshot(`"devices must be a whole number from 1 to 10,000 (got 0): ask for at least 1 (the sample is 3); synthetic ids stop at 10,000"`);
    expect(usage({ devices: 2.5 })).toMatchInlineSnapshot(`"devices must be a whole number from 1 to 10,000 (got 2.5): ask for at least 1 (the sample is 3); synthetic ids stop at 10,000"`);
    expect(usage({ days: 0 })).toMatchInlineSnapshot(`"days must be a whole number from 1 to 1,830 (got 0): 1,830 days is 5 years, the longest retention in the schema; use fewer days"`);
    expect(usage({ days: 100_000 })).toMatchInlineSnapshot(`"days must be a whole number from 1 to 1,830 (got 100000): 1,830 days is 5 years, the longest retention in the schema; use fewer days"`);
    expect(usage({ devices: 10_000, days: 1830, interval: '1m' })).toMatchInlineSnapshot(`"devices × days × readings per day = 10,000 × 1,830 × 1,440 = 26,352,000,000 rows, above the limit of 200,000,000 (~30 GB before compression): use fewer devices or days, or a longer interval"`);
    expect(usage({ interval: '7m' })).toMatchInlineSnapshot(`"interval 7m (420 s) does not divide a day (86,400 s): use one that does, such as 10s, 1m, 5m, 15m or 1h"`);
    expect(usage({ interval: '2d' })).toMatchInlineSnapshot(`"interval 2d (172,800 s) does not divide a day (86,400 s): use one that does, such as 10s, 1m, 5m, 15m or 1h"`);
    expect(usage({ interval: '0s' })).toMatchInlineSnapshot(`"interval 0s (0 s) does not divide a day (86,400 s): use one that does, such as 10s, 1m, 5m, 15m or 1h"`);
    expect(usage({ interval: 'five minutes' })).toMatchInlineSnapshot(`"interval "five minutes" is not a duration: use a whole number with s, m or h, such as 30s, 5m or 1h"`);
    expect(usage({ seed: -1 })).toMatchInlineSnapshot(`"seed must be a whole number from 0 to 4,294,967,295 (got -1): use any 32-bit unsigned integer"`);
    expect(usage({ end: 'yesterday' })).toMatchInlineSnapshot(`"end "yesterday" is not a date: use an ISO 8601 time such as 2024-07-01T00:00:00Z"`);
  });

  it('accepts the largest plan under the row limit', () => {
    const plan = planGeneration({ devices: 2000, days: 1000, interval: '15m' }, defaults, now);
    expect(plan.totalReadings).toBe(192_000_000);
    expect(plan.totalReadings).toBeLessThanOrEqual(SEED_LIMITS.maxRows);
  });
});

describe('checkAdminPassword', () => {
  it('refuses a short admin password without repeating it', () => {
    let message = '';
    try {
      checkAdminPassword('hunter2');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatchInlineSnapshot(`"the admin password (AETHERLENS_ADMIN_PASSWORD) has 7 characters, fewer than 12: choose a longer one, or unset it to have one generated"`);
    expect(message).not.toContain('hunter2');
    expect(() => checkAdminPassword('correct horse battery staple')).not.toThrow();
    expect(() => checkAdminPassword(undefined)).not.toThrow();
  });
});
