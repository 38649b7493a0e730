import { backup } from '../backup/backup.js';
import { listCatalog } from '../backup/catalog.js';
import { rotate } from '../backup/rotate.js';
import { resolveRetention, type RetentionPolicy } from '../backup/rotation.js';
import { describeConnection } from '../connection.js';
import type { Settings, TargetSpec } from '../config.js';
import { runDueJobs } from '../embedded/jobs.js';
import { drill } from '../restore/drill.js';
import { withTarget } from '../targets/open.js';
import type { Steps } from './steps.js';

/** A description of the target that is safe for logs and the status file (no password). */
export function targetLabel(spec: TargetSpec): string {
  switch (spec.kind) {
    case 'server':
      return describeConnection(spec.connection);
    case 'docker':
      return `docker ${spec.container}`;
    case 'embedded':
      return `embedded ${spec.dataDir}`;
  }
}

/** Passwords to blank out of anything the scheduler logs, writes or sends. */
export function targetSecrets(spec: TargetSpec): string[] {
  return [spec.kind === 'server' ? spec.connection.password : undefined, process.env.PGPASSWORD, process.env.AETHERLENS_ADMIN_PASSWORD].filter((s): s is string => Boolean(s));
}

/**
 * The real chain: the library's backup, restore drill, rotation and policy jobs. The target is
 * opened for each step and closed after it, so between runs other commands can use the database
 * (on the embedded target the engine is not held open all night).
 */
export function realSteps(settings: Settings, options: { retention?: RetentionPolicy } = {}): Steps {
  const spec = settings.target;
  // Validated now, at start-up, not at the first rotation in the middle of the night.
  const policy = options.retention ?? resolveRetention({});
  const open = { ...(settings.pgBinDir ? { pgBinDir: settings.pgBinDir } : {}) };
  return {
    async backup({ signal, logger }) {
      const made = await withTarget(spec, 'schedule (backup)', (target) => backup({ target, dir: settings.backupDir, logger, signal }), open);
      return { name: made.id, createdAt: made.manifest.createdAt, bytes: made.manifest.dump.bytes, seconds: Math.round(made.manifest.durationSeconds * 1000) / 1000 };
    },
    async drill(made, { signal, logger }) {
      const report = await drill({ target: spec, backupDir: settings.backupDir, backup: made.name, signal, logger, ...open });
      const fingerprint = report.checks.find((c) => c.name === 'fingerprint');
      return { ok: report.ok, restoreSeconds: report.rtoSeconds ?? 0, mismatches: fingerprint && !fingerprint.ok ? Math.max(1, fingerprint.differences.length) : 0, problems: report.differences };
    },
    async rotate({ logger }) {
      const result = await rotate({ dir: settings.backupDir, policy, logger });
      return { deleted: result.deleted.length, kept: result.decisions.filter((d) => d.action === 'keep').length };
    },
    async lastVerified() {
      const newest = (await listCatalog(settings.backupDir)).filter((e) => e.status === 'verified').at(-1);
      if (!newest) return undefined;
      const v = newest.manifest?.verification;
      const restoreSeconds = typeof v?.restoreSeconds === 'number' ? v.restoreSeconds : v?.seconds;
      return {
        name: newest.id,
        createdAt: newest.createdAt,
        ...(v ? { verifiedAt: v.verifiedAt } : {}),
        ...(newest.manifest ? { bytes: newest.manifest.dump.bytes } : {}),
        ...(restoreSeconds !== undefined ? { restoreSeconds } : {}),
      };
    },
    ...(spec.kind === 'embedded'
      ? {
          runJobs: async ({ logger }) => {
            const runs = await withTarget(spec, 'schedule (policy jobs)', (target) => runDueJobs(target.connection, { stateDir: spec.dataDir, logger }));
            const failed = runs.filter((r) => !r.ok);
            return { ran: runs.length, failed: failed.length, errors: failed.map((r) => `job ${r.id} (${r.proc}): ${r.error ?? 'failed'}`) };
          },
        }
      : {}),
  };
}
