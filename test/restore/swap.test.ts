import { describe, expect, test } from 'vitest';
import { settingValue, swapInstructions } from '../../ops/lib/targets/server/swap.js';

describe('the swap', () => {
  test.each([
    ['"$user", public', '"$user", public'],
    ['"$user", public, "odd ""schema"""', '"$user", public, "odd ""schema"""'],
    ['45s', `'45s'`],
    ['UTC', `'UTC'`],
    [`it's; DROP DATABASE x, y`, `'it''s; DROP DATABASE x, y'`],
  ])('a stored database setting %j is given back as %s', (stored, sql) => {
    expect(settingValue(stored)).toBe(sql);
  });

  test('rollback and drop steps name everything quoted, with the same stamp', () => {
    expect(swapInstructions(`my "db"`, `my "db"_pre_restore_20261120_100005`, '20261120_100005')).toEqual({
      rollback: [
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN ('my "db"', 'my "db"_pre_restore_20261120_100005');`,
        `ALTER DATABASE "my ""db""" RENAME TO "my ""db""_restored_20261120_100005";`,
        `ALTER DATABASE "my ""db""_pre_restore_20261120_100005" RENAME TO "my ""db""";`,
      ],
      drop: [`DROP DATABASE "my ""db""_pre_restore_20261120_100005" WITH (FORCE);`],
    });
  });
});
