import { SettingsProblems } from '../settings/problems.js';
import type { Environment } from '../settings/variables.js';
import type { BackupStatus } from './catalog.js';

/** How many verified backups to keep: the newest per day, per ISO week and per month (UTC). */
export interface RetentionPolicy {
  daily: number;
  weekly: number;
  monthly: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { daily: 7, weekly: 4, monthly: 12 };

export interface RotationInput {
  id: string;
  createdAt: string;
  status: BackupStatus;
  /** Why a broken entry is broken (shown in its reason). */
  problem?: string;
}

export interface RotationDecision extends RotationInput {
  action: 'keep' | 'delete';
  reason: string;
}

export interface RotationPlan {
  policy: RetentionPolicy;
  /** Every backup, newest first, with what happens to it and why. */
  decisions: RotationDecision[];
  /** Ids to delete, in the order to delete them: failed, then unverified, then verified, oldest first. */
  delete: string[];
}

const dayOf = (d: Date) => d.toISOString().slice(0, 10);
const monthOf = (d: Date) => d.toISOString().slice(0, 7);
/** ISO 8601 week, e.g. 2026-W48 (weeks start on Monday; week 1 holds the first Thursday). */
function weekOf(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const weekday = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

const BUCKETS = [
  ['daily', dayOf],
  ['weekly', weekOf],
  ['monthly', monthOf],
] as const;

const DELETE_ORDER: Record<BackupStatus, number> = { failed: 0, broken: 0, unverified: 1, verified: 2 };

/**
 * Grandfather-father-son by count, over verified backups only: the newest verified backup of each
 * of the last `daily` days that have one, of the last `weekly` ISO weeks and `monthly` months.
 * The newest verified backup is always kept. Unverified backups never take a verified one's
 * place: those newer than the newest verified backup wait for a drill (at most max(daily, 1) of
 * them), older ones and failed ones are deleted, and deleted first. Broken ones (a manifest it
 * cannot read or of a newer format, a damaged dump) are never deleted: they are kept with the
 * reason. Pure: no I/O.
 */
export function planRotation(entries: readonly RotationInput[], policy: RetentionPolicy): RotationPlan {
  const newestFirst = [...entries].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  const reasons = new Map<string, string[]>();
  const keep = (id: string, reason: string) => reasons.set(id, [...(reasons.get(id) ?? []), reason]);

  const verified = newestFirst.filter((e) => e.status === 'verified');
  for (const [name, keyOf] of BUCKETS) {
    const seen = new Set<string>();
    for (const e of verified) {
      const key = keyOf(new Date(e.createdAt));
      if (seen.has(key)) continue;
      if (seen.size >= policy[name]) break;
      seen.add(key);
      keep(e.id, `${name} ${key}`);
    }
  }
  if (verified[0] && !reasons.has(verified[0].id)) keep(verified[0].id, 'newest verified backup');

  const newestVerifiedAt = verified[0]?.createdAt;
  const pendingLimit = Math.max(policy.daily, 1);
  let pending = 0;
  const decisions = newestFirst.map((e): RotationDecision => {
    if (e.status === 'verified') {
      const why = reasons.get(e.id);
      return why ? { ...e, action: 'keep', reason: why.join(', ') }
        : { ...e, action: 'delete', reason: `verified, but outside ${policy.daily} daily / ${policy.weekly} weekly / ${policy.monthly} monthly` };
    }
    if (e.status === 'failed') return { ...e, action: 'delete', reason: 'failed its restore drill' };
    // Only what provably failed is ours to delete: a manifest of a newer format, one unreadable for
    // a moment, or a damaged backup is kept for a person to look at.
    if (e.status === 'broken') return { ...e, action: 'keep', reason: `cannot tell what it is, so it is kept: ${e.problem ?? 'unreadable'}; look at it, and delete it by hand if it is not needed` };
    if (newestVerifiedAt !== undefined && e.createdAt <= newestVerifiedAt) {
      return { ...e, action: 'delete', reason: 'never verified, and a newer backup is verified' };
    }
    pending += 1;
    return pending <= pendingLimit
      ? { ...e, action: 'keep', reason: 'not verified yet: newer than the newest verified backup, waiting for a drill' }
      : { ...e, action: 'delete', reason: `not verified, and ${pendingLimit} newer backups are already waiting for a drill` };
  });

  const doomed = decisions.filter((d) => d.action === 'delete')
    .sort((a, b) => DELETE_ORDER[a.status] - DELETE_ORDER[b.status] || a.createdAt.localeCompare(b.createdAt));
  return { policy, decisions, delete: doomed.map((d) => d.id) };
}

/** The rotation flags, already named by commander. */
export interface RetentionFlags {
  keepDaily?: string;
  keepWeekly?: string;
  keepMonthly?: string;
}

/**
 * Retention counts from flags, then AETHERLENS_KEEP_DAILY/WEEKLY/MONTHLY, then the defaults.
 * Negative or non-integer counts, and all zeros, are added to `problems` (the resolver's one error).
 */
export function collectRetention(flags: RetentionFlags, env: Environment, problems: SettingsProblems): RetentionPolicy {
  const before = problems.count;
  const read = (flag: string, value: string | undefined, variable: string, fallback: number): number => {
    const [name, raw] = value !== undefined ? [flag, value] : [variable, env[variable]];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n)) {
      problems.add(`${name} must be a whole number, 0 or more (got "${raw}")`);
      return fallback;
    }
    return n;
  };
  const policy: RetentionPolicy = {
    daily: read('--keep-daily', flags.keepDaily, 'AETHERLENS_KEEP_DAILY', DEFAULT_RETENTION.daily),
    weekly: read('--keep-weekly', flags.keepWeekly, 'AETHERLENS_KEEP_WEEKLY', DEFAULT_RETENTION.weekly),
    monthly: read('--keep-monthly', flags.keepMonthly, 'AETHERLENS_KEEP_MONTHLY', DEFAULT_RETENTION.monthly),
  };
  if (problems.count === before && policy.daily + policy.weekly + policy.monthly === 0) {
    problems.add('the daily, weekly and monthly keep counts are all 0, which would keep nothing: keep at least one');
  }
  return policy;
}

/** collectRetention on its own, for callers with nothing else to resolve (OpsError CONFIG, exit 2). */
export function resolveRetention(flags: RetentionFlags, env: Environment): RetentionPolicy {
  const problems = new SettingsProblems();
  const policy = collectRetention(flags, env, problems);
  problems.throwIfAny();
  return policy;
}
