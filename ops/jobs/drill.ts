#!/usr/bin/env -S node --import tsx
// Re-proves old backups: each run restore-drills the kept backup whose last drill is the oldest
// (one never drilled first), so every backup rotation keeps is drilled again on a cycle no longer
// than the catalog (default retention and schedule: 19–21 backups kept, each re-drilled every
// 12–13 days; test/scheduler/drillCycle.test.ts simulates two years of it).
// A backup drilled within AETHERLENS_DRILL_MIN_AGE_HOURS (default 20) is not drilled again.
import { aetherlens, finish, step } from './support/job.js';
import { stalestBackup, type Listed } from './support/stalest.js';

interface Drill { ok: boolean; rtoSeconds: number | null; checks: Array<{ name: string; ok: boolean }>; differences: string[] }

const minAgeMs = Number(process.env.AETHERLENS_DRILL_MIN_AGE_HOURS ?? 20) * 3_600_000;

const catalog = await aetherlens<Listed[]>('backups');
const due = stalestBackup(catalog, Date.now(), minAgeMs);

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
