import { OpsError } from '../errors.js';
import { findBackup, listCatalog, type CatalogEntry } from '../backup/catalog.js';

export interface Selection {
  /** A backup id or folder path; when given, the other fields do not apply. */
  backup?: string;
  /** Allow the newest backup that never passed a drill (never one that failed a drill). */
  latestUnverified?: boolean;
  /** The newest backup taken strictly before this time. */
  before?: Date;
}

/**
 * Parses --before: "2026-11-20 10:00" (the host's local time, as a person types it), optionally
 * with seconds, or a full ISO 8601 time with a zone.
 */
export function parseBefore(text: string): Date {
  const match = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/.exec(text.trim());
  const date = match ? new Date(`${match[1]}T${match[2] ?? '00:00'}${match[3] ?? ''}`) : undefined;
  if (!date || Number.isNaN(date.getTime())) {
    throw new OpsError('USAGE', `--before "${text}" is not a time: use "YYYY-MM-DD HH:MM" (local time) or an ISO 8601 time such as 2026-11-20T10:00:00Z`);
  }
  return date;
}

/**
 * The backup a restore uses: the one named, else the newest verified one (before `before`, if
 * given); unverified ones only with `latestUnverified`. Backups whose drill failed and broken ones
 * are never picked automatically. The error says what exists and what to do.
 */
export async function selectBackup(dir: string, selection: Selection): Promise<CatalogEntry> {
  if (selection.backup) return findBackup(dir, selection.backup);
  const catalog = await listCatalog(dir);
  const allowed = (e: CatalogEntry) => e.status === 'verified' || (selection.latestUnverified === true && e.status === 'unverified');
  const inTime = (e: CatalogEntry) => !selection.before || new Date(e.createdAt).getTime() < selection.before.getTime();
  const pick = catalog.filter((e) => allowed(e) && inTime(e)).at(-1);
  if (pick) return pick;
  const when = selection.before ? ` taken before ${selection.before.toISOString()}` : '';
  const kind = selection.latestUnverified ? 'usable (verified or unverified)' : 'verified';
  if (catalog.length === 0) throw new OpsError('NOT_FOUND', `there are no backups in ${dir}: check --dir (or AETHERLENS_BACKUP_DIR)`);
  const unverified = catalog.filter((e) => e.status === 'unverified' && inTime(e)).at(-1);
  const hint = unverified && !selection.latestUnverified
    ? `the newest unverified one is ${unverified.id}: run aetherlens-db verify ${unverified.id} first, or pass --latest-unverified`
    : 'run aetherlens-db backups to see what there is';
  throw new OpsError('NOT_FOUND', `no ${kind} backup${when} in ${dir}: ${hint}`);
}
