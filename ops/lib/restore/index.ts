/**
 * Restores and restore drills (DESIGN section 5, issue 5): the public API.
 *
 *   drill({ target, backupDir, backup?, mode?, signal?, logger? }) → DrillReport
 *     `aetherlens-db verify`: sha256, restore into a scratch database (data directory on the
 *     embedded target), fingerprint and the other checks, RTO/RPO, verdict into the manifest,
 *     scratch dropped also on failure and interrupt.
 *   restore({ target, backupDir, selection, into?, force?, confirm, signal?, logger? }) → RestoreReport
 *     `aetherlens-db restore`: never in place; copy, checks, confirmation, atomic swap keeping
 *     the previous data as <db>_pre_restore_<stamp>; rollback and drop steps in the report.
 *   selectBackup(dir, { backup?, latestUnverified?, before? }) / parseBefore(text).
 *   openRestoreSite(spec, { purpose, command }) → RestoreSite: per-target restore (server, docker,
 *     embedded) for callers that need the pieces (benchmarks, tests); restoreSitesOf(spec) is what
 *     drill and restore take when no Target is open (an open Target serves as well).
 */
export { drill, prepareDrill, type PreparedDrill, checkCopy, checkChecksum, recoveryPoint, DEFAULT_RESTORE_MODE, type DrillOptions, type DrillReport, type RecoveryPoint, type ExtensionVersionsReport } from './drill.js';
export { restore, backupRowCounts, type RestoreOptions, type RestoreReport, type RestoreSummary, type RowComparison } from './restore.js';
export { selectBackup, parseBefore, type Selection } from './select.js';
export { openRestoreSite, restoreSitesOf } from '../targets/open.js';
export { assertRestorable } from './compat.js';
export { restoreNames, restoreStamp, checkDatabaseName, libpqDbname, MAX_IDENTIFIER_BYTES, type RestoreNames, type ScratchPurpose } from '../targets/names.js';
export { compareAcrossUpdate, type CheckResult } from './checks.js';
export { describeSession, type RestoreMode, type RestorePhase, type RestoreSite, type ScratchCopy, type SiteFacts, type SwapResult, type LiveSession, type CopySession } from '../targets/restoreSite.js';
