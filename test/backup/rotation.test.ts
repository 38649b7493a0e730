import { describe, expect, it } from 'vitest';
import { planRotation, resolveRetention, type RotationInput } from '../../ops/lib/index.js';
import { catalog, SIXTY_DAYS, SIXTY_DAYS_KEPT_BY_DEFAULT } from './fixtures.js';

const stamp = (id: string) => id.replace('-aetherlens', '');

describe('rotation plan: grandfather-father-son by count over verified backups', () => {
  it('the synthetic catalog has 60 days', () => {
    expect(SIXTY_DAYS).toHaveLength(60);
    expect(catalog(SIXTY_DAYS).at(-1)!.createdAt).toBe('2026-03-01T02:00:00.000Z');
  });

  const cases: { name: string; pattern: string; policy: { daily: number; weekly: number; monthly: number }; keep: string[] }[] = [
    {
      name: 'defaults 7/4/12 on 60 days with failures',
      pattern: SIXTY_DAYS,
      policy: { daily: 7, weekly: 4, monthly: 12 },
      keep: SIXTY_DAYS_KEPT_BY_DEFAULT,
    },
    {
      name: '3 daily only',
      pattern: SIXTY_DAYS,
      policy: { daily: 3, weekly: 0, monthly: 0 },
      keep: ['20260222T020000Z', '20260224T140000Z', '20260226T020000Z', '20260228T020000Z', '20260301T020000Z'],
    },
    {
      name: '2 monthly only: at most one backup waits for a drill',
      pattern: SIXTY_DAYS,
      policy: { daily: 0, weekly: 0, monthly: 2 },
      keep: ['20260130T020000Z', '20260226T020000Z', '20260301T020000Z'],
    },
    {
      name: '2 weekly only',
      pattern: SIXTY_DAYS,
      policy: { daily: 0, weekly: 2, monthly: 0 },
      keep: ['20260222T020000Z', '20260226T020000Z', '20260301T020000Z'],
    },
    {
      name: 'the last 15 backups failed: they push out no verified backup',
      pattern: `${'v'.repeat(45)}${'f'.repeat(15)}`,
      policy: { daily: 7, weekly: 4, monthly: 12 },
      keep: [
        '20260125T020000Z', // weekly 2026-W04
        '20260131T020000Z', // monthly 2026-01
        '20260201T020000Z', // weekly 2026-W05
        '20260208T020000Z', '20260209T020000Z', '20260210T020000Z', '20260211T020000Z', '20260212T020000Z', '20260213T020000Z', // daily (Feb 8 also weekly W06)
        '20260214T020000Z', // newest verified: daily, weekly W07, monthly 2026-02
      ],
    },
    {
      name: 'nothing verified yet: the newest 7 wait for a drill, the rest go',
      pattern: 'u'.repeat(60),
      policy: { daily: 7, weekly: 4, monthly: 12 },
      keep: ['20260223T020000Z', '20260224T020000Z', '20260225T020000Z', '20260226T020000Z', '20260227T020000Z', '20260228T020000Z', '20260301T020000Z'],
    },
    {
      name: 'only 1 monthly: the newest verified backup survives',
      pattern: 'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvff',
      policy: { daily: 0, weekly: 0, monthly: 1 },
      keep: ['20260227T020000Z'],
    },
  ];

  it.each(cases)('$name', ({ pattern, policy, keep }) => {
    const plan = planRotation(catalog(pattern), policy);
    const kept = plan.decisions.filter((d) => d.action === 'keep').map((d) => stamp(d.id)).sort();
    expect(kept).toEqual(keep);
    // Every backup has exactly one decision, and what is not kept is deleted.
    expect(plan.decisions).toHaveLength(catalog(pattern).length);
    expect(plan.delete).toHaveLength(plan.decisions.length - keep.length);
    // The newest verified backup is never deleted.
    const newestVerified = catalog(pattern).filter((e) => e.status === 'verified').at(-1);
    if (newestVerified) expect(plan.delete).not.toContain(newestVerified.id);
  });

  it('deletes failed ones first, then unverified, then verified, oldest first, and says why', () => {
    const plan = planRotation(catalog(SIXTY_DAYS), { daily: 7, weekly: 4, monthly: 12 });
    const statuses = plan.delete.map((id) => plan.decisions.find((d) => d.id === id)!.status);
    const firstUnverified = statuses.indexOf('unverified');
    const firstVerified = statuses.indexOf('verified');
    expect(statuses.slice(0, firstUnverified).every((s) => s === 'failed')).toBe(true);
    expect(firstUnverified).toBeLessThan(firstVerified);
    expect(plan.delete.slice(0, 6).map(stamp)).toEqual(['20260111T020000Z', '20260121T020000Z', '20260131T020000Z', '20260210T020000Z', '20260225T020000Z', '20260227T020000Z']);
    const reason = (id: string) => plan.decisions.find((d) => stamp(d.id) === id)!.reason;
    expect(reason('20260226T020000Z')).toBe('daily 2026-02-26, weekly 2026-W09, monthly 2026-02');
    expect(reason('20260130T020000Z')).toBe('monthly 2026-01');
    expect(reason('20260225T020000Z')).toBe('failed its restore drill');
    expect(reason('20260220T020000Z')).toBe('never verified, and a newer backup is verified');
    expect(reason('20260224T020000Z')).toBe('verified, but outside 7 daily / 4 weekly / 12 monthly');
    expect(reason('20260301T020000Z')).toBe('not verified yet: newer than the newest verified backup, waiting for a drill');
  });

  it('never deletes a broken backup: it keeps it and says why (issue 17)', () => {
    const entries: RotationInput[] = [
      ...catalog('vvvv'),
      { id: '20260101T030000Z-aetherlens', createdAt: '2026-01-01T03:00:00.000Z', status: 'broken', problem: 'its manifest has format 2, newer than this aetherlens-db reads (1)' },
      { id: '20260105T020000Z-aetherlens', createdAt: '2026-01-05T02:00:00.000Z', status: 'broken', problem: 'the dump aetherlens.dump is missing' },
    ];
    const plan = planRotation(entries, { daily: 1, weekly: 0, monthly: 0 });
    expect(plan.delete.sort()).toEqual(['20260101T020000Z-aetherlens', '20260102T020000Z-aetherlens', '20260103T020000Z-aetherlens']);
    const decision = (id: string) => plan.decisions.find((d) => d.id === id)!;
    expect(decision('20260101T030000Z-aetherlens')).toMatchObject({ action: 'keep', reason: 'cannot tell what it is, so it is kept: its manifest has format 2, newer than this aetherlens-db reads (1); look at it, and delete it by hand if it is not needed' });
    expect(decision('20260105T020000Z-aetherlens')).toMatchObject({ action: 'keep', reason: 'cannot tell what it is, so it is kept: the dump aetherlens.dump is missing; look at it, and delete it by hand if it is not needed' });
  });
});

describe('retention settings', () => {
  it('defaults to 7 daily, 4 weekly, 12 monthly; flags beat the environment', () => {
    expect(resolveRetention({}, {})).toEqual({ daily: 7, weekly: 4, monthly: 12 });
    expect(resolveRetention({ keepDaily: '3' }, { AETHERLENS_KEEP_DAILY: '5', AETHERLENS_KEEP_MONTHLY: '0' })).toEqual({ daily: 3, weekly: 4, monthly: 0 });
  });

  it('refuses negative, fractional and non-numeric counts, naming each setting', () => {
    expect(() => resolveRetention({ keepDaily: '-1' }, {})).toThrowErrorMatchingInlineSnapshot(`[OpsError: --keep-daily must be a whole number, 0 or more (got "-1")]`);
    expect(() => resolveRetention({}, { AETHERLENS_KEEP_WEEKLY: '2.5', AETHERLENS_KEEP_MONTHLY: 'lots' })).toThrowErrorMatchingInlineSnapshot(`
      [OpsError: configuration has 2 problems:
        - AETHERLENS_KEEP_WEEKLY must be a whole number, 0 or more (got "2.5")
        - AETHERLENS_KEEP_MONTHLY must be a whole number, 0 or more (got "lots")]
    `);
  });

  it('refuses all zeros', () => {
    expect(() => resolveRetention({ keepDaily: '0', keepWeekly: '0', keepMonthly: '0' }, {})).toThrowErrorMatchingInlineSnapshot(`[OpsError: the daily, weekly and monthly keep counts are all 0, which would keep nothing: keep at least one]`);
  });
});
