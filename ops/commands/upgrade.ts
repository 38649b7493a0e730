import { Command } from 'commander';
import { formatCheck, formatSeconds, OpsError, upgrade, withTarget, type UpgradeReport } from '../lib/index.js';
import { loggerFor, output, settingsFrom, withTargetOptions, type GlobalOptions, withInterrupt } from './context.js';

type UpgradeFlags = GlobalOptions & { backupFirst?: boolean; to?: string };

/** The major move's lines, when this run carried the older major's backup over (upgrade/major.ts). */
function formatMajor(r: UpgradeReport): string[] {
  const m = r.major;
  if (!m) return [];
  const v = m.restore.timescaledb;
  return [
    `PostgreSQL ${m.fromServer} → ${m.toServer}: pre-upgrade backup ${m.backup} drilled here (${m.drill.ok ? 'PASSED' : 'FAILED'}) and restored into "${m.restore.live}" in ${formatSeconds(m.restore.seconds)}`,
    `  TimescaleDB: restored at ${v.restoredAt} (the dump's version), then updated to ${v.updatedTo} and checked again`,
  ];
}

export function formatUpgrade(r: UpgradeReport): string {
  if (!r.backup) return [...formatMajor(r), `TimescaleDB ${r.after} in every database that has it (${r.unchanged.join(', ')}): nothing to do`].join('\n');
  const drill = r.backup.drillAfter;
  return [
    ...formatMajor(r),
    `TimescaleDB ${r.before} → ${r.after}: ${r.ok ? 'upgraded and checked' : 'UPGRADED, BUT A CHECK FAILED'} in ${formatSeconds(r.seconds)}`,
    ...r.updated.map((u) => `  ${u.database.padEnd(24)} ${u.from} → ${u.to} (${formatSeconds(u.seconds)})`),
    ...(r.unchanged.length ? [`  already at ${r.after}: ${r.unchanged.join(', ')}`] : []),
    `  jobs: ${r.jobs.scheduled} of ${r.jobs.total} scheduled${r.jobs.problems.length ? `; ${r.jobs.problems.join('; ')}` : ', as before'}`,
    `  inventory: ${r.inventoryMissing.length ? `missing ${r.inventoryMissing.join(', ')}` : 'everything the migrations promise is present'}`,
    `pre-upgrade backup ${r.backup.id}${r.backup.takenNow ? ' (taken and drilled now)' : ''}, drilled again on ${r.after}: ${drill.ok ? 'PASSED' : 'FAILED'}`,
    ...drill.checks.map(formatCheck),
    'to roll back:',
    ...r.rollback.map((s) => `  ${s}`),
  ].join('\n');
}

export const upgradeCommand = withTargetOptions(new Command('upgrade'))
  .description('upgrade TimescaleDB in every database (template1 included) to the server\'s newest, guarded by a drilled backup')
  .option('--backup-first', 'take a backup and drill it first when none taken at the current version has passed a drill')
  .option('--to <version>', "the TimescaleDB version to move to (default: the server's default version)")
  .option('--dir <dir>', 'backup directory (or AETHERLENS_BACKUP_DIR; default .aetherlens/backups)')
  .option('--json', 'print the report as JSON')
  .action(async (options: UpgradeFlags) => {
    const settings = settingsFrom(options);
    await withInterrupt(async (signal) => {
      const report = await withTarget(settings.target, 'upgrade', (target) => upgrade({
        target,
        backupDir: settings.backupDir,
        ...(options.backupFirst ? { backupFirst: true } : {}),
        ...(options.to ? { to: options.to } : {}),
        migrationsDir: settings.migrationsDir,
        signal,
        logger: loggerFor(options),
      }), settings.pgBinDir ? { pgBinDir: settings.pgBinDir } : {});
      output(options, report, formatUpgrade);
      if (!report.ok && report.backup) {
        // One closing line on stderr too: the post-deploy step (and so `pulumi up`) shows only that.
        const why = [...report.jobs.problems, ...report.inventoryMissing.map((m) => `${m} missing`), ...report.backup.drillAfter.differences][0];
        throw new OpsError('EXTENSION', `upgrade to TimescaleDB ${report.after} done, but a check failed (${why}); backup ${report.backup.id} is proven at ${report.before}: see the rollback steps above`);
      }
    });
  });
