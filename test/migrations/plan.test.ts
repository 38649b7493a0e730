import { describe, expect, test } from 'vitest';
import { planMigrations } from '../../ops/lib/migrations/plan.js';
import type { MigrationFile } from '../../ops/lib/migrations/files.js';
import type { LedgerRow } from '../../ops/lib/migrations/ledger.js';

const file = (version: number, checksum = `c${version}`): MigrationFile => ({
  version,
  name: `m${version}`,
  fileName: `${String(version).padStart(3, '0')}_m${version}.sql`,
  path: `/x/${version}.sql`,
  sql: '',
  checksum,
  requiresCommunity: false,
  noTransaction: false,
});
const row = (version: number, checksum = `c${version}`, success = true): LedgerRow => ({
  version,
  name: `m${version}`,
  checksum,
  applied_at: new Date('2026-11-01T00:00:00Z'),
  applied_by: 'test',
  execution_ms: 1,
  success,
  adopted: false,
});

describe('planMigrations', () => {
  test.each([
    { name: 'empty database', files: [1, 2], ledger: [], head: null, pending: [1, 2], states: ['pending', 'pending'], problems: [] },
    { name: 'up to date', files: [1, 2], ledger: [1, 2], head: 2, pending: [], states: ['applied', 'applied'], problems: [] },
    { name: 'one new file', files: [1, 2, 3], ledger: [1, 2], head: 2, pending: [3], states: ['applied', 'applied', 'pending'], problems: [] },
    { name: 'a gap filled late', files: [1, 2, 3], ledger: [1, 3], head: 3, pending: [2], states: ['applied', 'pending', 'applied'], problems: ['ORDER'] },
    { name: 'unknown applied version', files: [1], ledger: [1, 2], head: 2, pending: [], states: ['applied', 'unknown'], problems: ['ORDER'] },
  ])('$name', ({ files, ledger, head, pending, states, problems }) => {
    const plan = planMigrations(files.map((v) => file(v)), ledger.map((v) => row(v)));
    expect(plan.head).toBe(head);
    expect(plan.pending.map((f) => f.version)).toEqual(pending);
    expect(plan.states.map((s) => s.state)).toEqual(states);
    expect(plan.problems.map((p) => p.code)).toEqual(problems);
  });

  test('drift comes first among the problems and names the file', () => {
    const plan = planMigrations([file(1, 'changed'), file(2), file(0)], [row(1), row(2)]);
    expect(plan.problems.map((p) => p.code)).toEqual(['DRIFT', 'ORDER']);
    expect(plan.problems[0]!.message).toBe('migration 001_m1.sql was changed after it was applied (checksum c1… in the ledger, changed… on disk): restore the original file and put the change in a new migration');
  });

  test('a failed non-transactional run is retried, not counted in the head', () => {
    const plan = planMigrations([file(1), file(2)], [row(1), row(2, 'c2', false)]);
    expect(plan.head).toBe(1);
    expect(plan.pending.map((f) => f.version)).toEqual([2]);
    expect(plan.states[1]!.state).toBe('failed');
  });
});
