#!/usr/bin/env -S node --import tsx
// Runs the TimescaleDB policy jobs that are due (compression, retention, aggregate refresh) on
// the embedded target, whose engine has no background workers. Elsewhere it does nothing: a
// server runs its policies itself.
import { aetherlens, finish, step } from './support/job.js';

interface PolicyRun { id: number; proc: string; ok: boolean; error?: string }

await step('jobs', () => aetherlens<PolicyRun[]>('jobs', 'run', '--embedded-only'), (runs) => {
  const failed = runs.filter((r) => !r.ok);
  return { jobsRan: runs.length, ...(failed.length > 0 ? { failed: `${failed.length} of ${runs.length} policy job(s) failed: ${failed.slice(0, 3).map((r) => `job ${r.id} (${r.proc}): ${r.error ?? 'failed'}`).join('; ')}` } : {}) };
});

finish();
