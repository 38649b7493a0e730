import { Command } from 'commander';
import { backup, formatBytes, formatSeconds, withTarget, type BackupResult } from '../lib/index.js';
import { loggerFor, output, settingsFrom, withTargetOptions, type GlobalOptions, withInterrupt } from './context.js';

function formatBackup(r: BackupResult): string {
  const m = r.manifest;
  const fp = m.fingerprint;
  const chunks = Object.values(fp.hypertables).reduce((n, h) => n + Object.keys(h.chunks).length, 0);
  const notices = Object.values(m.notices).reduce((n, c) => n + (c ?? 0), 0);
  return [
    `backup ${r.id} written: ${formatBytes(m.dump.bytes)} in ${formatSeconds(m.durationSeconds)} (dump ${formatSeconds(m.timings.dump)}, fingerprint ${formatSeconds(m.timings.fingerprint)}, checksum ${formatSeconds(m.timings.checksum)})`,
    `  ${r.dumpPath}`,
    `  sha256 ${m.dump.sha256}`,
    `  PostgreSQL ${m.versions.server}, pg_dump ${m.versions.pgDump}, TimescaleDB ${m.versions.timescaledb ?? 'not installed'}${m.versions.edition ? ` (${m.versions.edition})` : ''}, migration head ${m.migrationHead ?? 'none'}`,
    `  fingerprint: ${Object.keys(fp.tables).length} tables, ${Object.keys(fp.hypertables).length} hypertables (${chunks} chunks), ${Object.keys(fp.continuousAggregates).length} continuous aggregates, ${Object.keys(fp.jobs).length} jobs${notices ? `; ${notices} benign pg_dump notices` : ''}`,
    ...(r.cleaned.length ? [`  removed leftovers of interrupted runs: ${r.cleaned.join(', ')}`] : []),
    '  not verified yet: run aetherlens-db verify --latest to prove it restores',
  ].join('\n');
}

export const backupCommand = withTargetOptions(new Command('backup'))
  .description('dump the whole database, with a fingerprint and a manifest, into the backup directory')
  .option('--dir <dir>', 'backup directory (or AETHERLENS_BACKUP_DIR; default .aetherlens/backups)')
  .option('--json', 'print the result, manifest included, as JSON')
  .action(async (options: GlobalOptions) => {
    const settings = settingsFrom(options);
    // Ctrl-C or a service stop: the dump is stopped and everything this run wrote removed.
    await withInterrupt(async (signal) => {
      const result = await withTarget(
        settings.target,
        'backup',
        (target) => backup({ target, dir: settings.backupDir, logger: loggerFor(options), signal }),
        settings.pgBinDir ? { pgBinDir: settings.pgBinDir } : {},
      );
      output(options, result, formatBackup);
    });
  });
