#!/usr/bin/env -S node --import tsx
// Re-proves old backups: each run restore-drills the kept backup whose last drill is the oldest
// (one never drilled first), so every backup rotation keeps is drilled again on a cycle as long
// as the catalog (about 20 backups with the default retention: each one every ~20 days).
// A backup drilled within AETHERLENS_DRILL_MIN_AGE_HOURS (default 20) is not drilled again.
import { aetherlens, finish, step } from './support/job.js';

interface Listed { id: string; status: string; createdAt: string; verification: { verifiedAt: string } | null }
interface Drill { ok: boolean; rtoSeconds: number | null; checks: Array<{ name: string; ok: boolean }>; differences: string[] }

const minAgeMs = Number(process.env.AETHERLENS_DRILL_MIN_AGE_HOURS ?? 20) * 3_600_000;
const lastDrilled = (b: Listed) => (b.verification ? Date.parse(b.verification.verifiedAt) : 0);

const catalog = await aetherlens<Listed[]>('backups');
const due = catalog
  .filter((b) => b.status === 'verified' || b.status === 'unverified')
  .filter((b) => Date.now() - lastDrilled(b) >= minAgeMs)
  .sort((a, b) => lastDrilled(a) - lastDrilled(b) || a.createdAt.localeCompare(b.createdAt))[0];

if (due) {
  await step('drill', () => aetherlens<Drill>('verify', due.id), (d) => ({
    backup: due.id,
    lastDrilledAt: due.verification?.verifiedAt ?? null,
    restoreSeconds: d.rtoSeconds ?? 0,
    mismatches: d.checks.some((c) => c.name === 'fingerprint' && !c.ok) ? Math.max(1, d.differences.length) : 0,
    ...(d.ok ? {} : { failed: `restore drill of ${due.id} failed: ${d.differences.slice(0, 3).join('; ') || 'no detail'}` }),
  }));
}

finish(due ? {} : { note: `nothing to drill: ${catalog.length === 0 ? 'the catalog is empty' : 'every backup was drilled recently'}` });
