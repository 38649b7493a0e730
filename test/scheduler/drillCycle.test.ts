// How often each kept backup is drilled with the default settings: two simulated years of the
// nightly backup job (backup, its drill, rotation with the default 7/4/12 retention) and the
// nightly drill job (the stalest backup, through the same selection the script uses).
import { describe, expect, test } from 'vitest';
import { planRotation, resolveRetention } from '../../ops/lib/backup/rotation.js';
import { stalestBackup } from '../../ops/jobs/support/stalest.js';

const DAY = 86_400_000;

describe('drill cycle with the default schedule and retention', () => {
  test('every kept backup is re-proven within a cycle no longer than the catalog it is in (measured: 19–21 kept, re-drilled every ~13 days)', () => {
    const policy = resolveRetention({}, {});
    type B = { id: string; status: string; createdAt: string; verification: { verifiedAt: string } | null; drills: number[] };
    let catalog: B[] = [];
    const gaps: number[] = [];
    const sizes: number[] = [];
    const start = Date.parse('2026-01-01T00:00:00Z');
    for (let day = 0; day < 730; day++) {
      const at = start + day * DAY;
      // 02:00 backup job: a backup, its drill, rotation.
      const made = new Date(at + 2 * 3_600_000).toISOString();
      catalog.push({ id: made, status: 'verified', createdAt: made, verification: { verifiedAt: made }, drills: [at + 2 * 3_600_000] });
      const plan = planRotation(catalog.map((b) => ({ id: b.id, createdAt: b.createdAt, status: 'verified' as const })), policy);
      const deleted = new Set(plan.delete);
      catalog = catalog.filter((b) => !deleted.has(b.id));
      // 04:00 drill job: the stalest backup, unless everything was drilled in the last 20 h.
      const now = at + 4 * 3_600_000;
      const due = stalestBackup(catalog, now, 20 * 3_600_000);
      if (due) {
        if (day >= 365) gaps.push((now - due.drills.at(-1)!) / DAY);
        due.drills.push(now);
        due.verification = { verifiedAt: new Date(now).toISOString() };
      }
      if (day >= 365) sizes.push(catalog.length);
    }
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    const max = Math.max(...gaps);
    console.log(`default retention ${policy.daily}/${policy.weekly}/${policy.monthly}: ${Math.min(...sizes)}–${Math.max(...sizes)} backups kept; a kept backup is re-drilled every ${mean.toFixed(1)} days on average, at most ${max.toFixed(0)} days`);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(policy.daily + policy.weekly + policy.monthly);
    expect(max).toBeLessThanOrEqual(Math.max(...sizes) + 1);
    expect(gaps.length).toBe(365);
  });
});
