import { OpsError } from '../errors.js';
import type { MigrationFile } from './files.js';
import type { LedgerRow } from './ledger.js';

export type MigrationStateKind = 'applied' | 'pending' | 'drifted' | 'failed' | 'unknown';

/** One row of `status`: a file, a ledger entry, or both. */
export interface MigrationState {
  version: number;
  name: string;
  state: MigrationStateKind;
  fileName?: string;
  appliedAt?: string;
  adopted?: boolean;
  executionMs?: number;
  requiresCommunity?: boolean;
}

export interface MigrationPlan {
  states: MigrationState[];
  /** Highest successfully applied version, or null on an empty database. */
  head: number | null;
  /** Files to apply, in order (pending plus previously failed). */
  pending: MigrationFile[];
  /** Problems that forbid applying anything, most serious first. */
  problems: OpsError[];
}

/**
 * Compares the files with the ledger: applied, pending, drifted (file changed after it was
 * applied), failed (a non-transactional file that stopped half-way; retried), unknown (in the
 * ledger but not on disk). Pure: no database access.
 */
export function planMigrations(files: readonly MigrationFile[], ledger: readonly LedgerRow[]): MigrationPlan {
  const byVersion = new Map(ledger.map((row) => [row.version, row]));
  const fileVersions = new Set(files.map((f) => f.version));
  const applied = ledger.filter((r) => r.success);
  const head = applied.length === 0 ? null : Math.max(...applied.map((r) => r.version));
  const states: MigrationState[] = [];
  const pending: MigrationFile[] = [];
  const problems: OpsError[] = [];

  for (const file of files) {
    const row = byVersion.get(file.version);
    const base = { version: file.version, name: file.name, fileName: file.fileName, requiresCommunity: file.requiresCommunity };
    if (!row) {
      states.push({ ...base, state: 'pending' });
      pending.push(file);
      if (head !== null && file.version < head) {
        problems.push(new OpsError('ORDER', `migration ${file.fileName} is numbered below the applied head ${head}: migrations are applied in order, so renumber it above ${head} and run again`));
      }
    } else if (!row.success) {
      states.push({ ...base, state: 'failed', appliedAt: row.applied_at.toISOString() });
      pending.push(file);
    } else if (row.checksum !== file.checksum) {
      states.push({ ...base, state: 'drifted', appliedAt: row.applied_at.toISOString(), adopted: row.adopted });
      problems.unshift(new OpsError('DRIFT', `migration ${file.fileName} was changed after it was applied (checksum ${row.checksum.slice(0, 12)}… in the ledger, ${file.checksum.slice(0, 12)}… on disk): restore the original file and put the change in a new migration`));
    } else {
      states.push({ ...base, state: 'applied', appliedAt: row.applied_at.toISOString(), adopted: row.adopted, executionMs: row.execution_ms });
    }
  }
  for (const row of ledger) {
    if (fileVersions.has(row.version)) continue;
    states.push({ version: row.version, name: row.name, state: 'unknown', appliedAt: row.applied_at.toISOString() });
    if (row.success) {
      problems.push(new OpsError('ORDER', `the database has migration ${String(row.version).padStart(3, '0')}_${row.name} applied, which this release does not have: use the aetherlens-db release that applied it`));
    }
  }
  states.sort((a, b) => a.version - b.version);
  return { states, head, pending, problems };
}
