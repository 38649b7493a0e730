import { Command } from 'commander';
import { drill, restoreSitesOf, formatAge, formatBytes, formatCheck, formatSeconds, OpsError, type DrillReport } from '../lib/index.js';
import { loggerFor, output, settingsFrom, withTargetOptions, type GlobalOptions, withInterrupt } from './context.js';

/** How many differences the text output lists; --json has them all. */
const SHOWN_DIFFERENCES = 20;

function formatDrill(r: DrillReport): string {
  const lines = [`verify ${r.backup.id} (${formatBytes(r.backup.bytes)}): ${r.ok ? 'PASSED' : 'FAILED'}`, ...r.checks.map(formatCheck)];
  if (!r.ok) {
    lines.push('what differs (backup → restored):');
    lines.push(...r.differences.slice(0, SHOWN_DIFFERENCES).map((d) => `  ${d}`));
    if (r.differences.length > SHOWN_DIFFERENCES) lines.push(`  … and ${r.differences.length - SHOWN_DIFFERENCES} more (--json lists them all)`);
  }
  if (r.rtoSeconds !== null) lines.push(`RTO: restored in ${formatSeconds(r.rtoSeconds)} (the whole drill took ${formatSeconds(r.seconds)})`);
  const rpo = r.rpo;
  lines.push(`RPO: the backup is ${formatAge(rpo.backupAgeSeconds)} old${rpo.dataAgeAtBackupSeconds !== null ? `; its newest data was ${formatAge(rpo.dataAgeAtBackupSeconds)} old when it was taken` : ''}`);
  if (r.cleaned.length > 0) lines.push(`removed leftovers of interrupted runs: ${r.cleaned.join(', ')}`);
  lines.push(`verdict recorded in ${r.backup.path}/manifest.json${r.scratch ? `; scratch copy ${r.scratch} removed` : ''}`);
  const ts = r.timescaledb;
  if (ts.restoredAt !== null && ts.updatedTo !== null) {
    lines.push(ts.updatedTo === ts.restoredAt
      ? `TimescaleDB ${ts.restoredAt}: the dump's version, kept (this server's default is not newer)`
      : `TimescaleDB: restored at ${ts.restoredAt} (the dump's version), then updated to ${ts.updatedTo} and checked again`);
  }
  return lines.join('\n');
}

export const verifyCommand = withTargetOptions(new Command('verify'))
  .description('restore drill: restore a backup into a scratch database, prove it matches, record the verdict')
  .argument('[backup]', 'backup id or folder (aetherlens-db backups lists them)')
  .option('--latest', 'the newest backup (the default when no backup is named)')
  .option('--dir <dir>', 'backup directory (or AETHERLENS_BACKUP_DIR; default .aetherlens/backups)')
  .option('--update-to <version>', "after the checks, update the copy's TimescaleDB to this version (default: the server's default version)")
  .option('--json', 'print the full report as JSON')
  .action(async (backupRef: string | undefined, options: GlobalOptions & { latest?: boolean; updateTo?: string }) => {
    if (backupRef && options.latest) throw new OpsError('USAGE', 'name a backup or pass --latest, not both');
    const settings = settingsFrom(options);
    // Ctrl-C or a service stop: the restore is stopped and the scratch copy dropped.
    await withInterrupt(async (signal) => {
      const report = await drill({
        // Opened only as far as the drill needs: the embedded database itself stays closed.
        target: restoreSitesOf(settings.target, settings.pgBinDir ? { pgBinDir: settings.pgBinDir } : {}),
        backupDir: settings.backupDir,
        ...(backupRef ? { backup: backupRef } : {}),
        ...(options.updateTo ? { updateTo: options.updateTo } : {}),
        signal,
        logger: loggerFor(options),
      });
      output(options, report, formatDrill);
      if (!report.ok) process.exitCode = 1;
    });
  });
