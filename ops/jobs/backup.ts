#!/usr/bin/env -S node --import tsx
// The nightly job, "rotated backups and verified restores": a backup, a restore drill of that
// backup, then rotation. Each step runs only after the one before it succeeded: rotation counts
// verified backups, so it waits for the drill. The scheduler's --no-drill / --no-rotate arrive
// as AETHERLENS_BACKUP_DRILL=off / AETHERLENS_BACKUP_ROTATE=off.
import { aetherlens, finish, step } from './support/job.js';

interface Backup { id: string; manifest: { createdAt: string; durationSeconds: number; dump: { bytes: number } } }
interface Drill { ok: boolean; backup: { id: string }; rtoSeconds: number | null; checks: Array<{ name: string; ok: boolean }>; differences: string[] }
interface Rotation { deleted: string[]; decisions: Array<{ action: string }> }

const drill = process.env.AETHERLENS_BACKUP_DRILL !== 'off';
const rotate = process.env.AETHERLENS_BACKUP_ROTATE !== 'off';

const made = await step('backup', () => aetherlens<Backup>('backup'), (b) => ({ backup: b.id, createdAt: b.manifest.createdAt, bytes: b.manifest.dump.bytes }));

const verified = made && drill
  ? await step('drill', () => aetherlens<Drill>('verify', made.id), (d) => ({
      backup: made.id,
      restoreSeconds: d.rtoSeconds ?? 0,
      mismatches: d.checks.some((c) => c.name === 'fingerprint' && !c.ok) ? Math.max(1, d.differences.length) : 0,
      ...(d.ok ? {} : { failed: `restore drill of ${made.id} failed: ${d.differences.slice(0, 3).join('; ') || 'no detail'}` }),
    }))
  : made;

if (verified && rotate) await step('rotate', () => aetherlens<Rotation>('rotate'), (r) => ({ deleted: r.deleted.length, kept: r.decisions.filter((d) => d.action === 'keep').length }));

finish();
