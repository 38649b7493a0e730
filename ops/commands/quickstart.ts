import { Command } from 'commander';
import { OpsError, quickstart, formatBytes, targetTraits, type QuickstartReport } from '../lib/index.js';
import { loggerFor, output, settingsFrom, type GlobalOptions } from './context.js';

const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);

function formatReport(r: QuickstartReport): string {
  const inv = r.inventory;
  const count = (t: { present: string[]; expected: string[] }) => `${t.present.length}/${t.expected.length}`;
  return [
    '',
    `AetherLens database ready (embedded TimescaleDB ${inv.timescaleVersion}, ${inv.edition} edition, PostgreSQL ${inv.serverVersion})`,
    `  data:        ${r.dataDir}`,
    `  schema:      migration ${inv.migrationHead}; tables ${count(inv.tables)}, hypertables ${count(inv.hypertables)} (7-day chunks), indexes ${count(inv.indexes)} valid, continuous aggregates ${count(inv.continuousAggregates)}, policies ${count(inv.policies)}${inv.ok ? '' : '  (INCOMPLETE: run `aetherlens-db inventory`)'}`,
    `  sample data: ${r.seed.devices} devices, ${r.seed.metricsRows.toLocaleString('en-US')} readings, ${r.seed.costRows.toLocaleString('en-US')} cost rows`,
    `  jobs run:    ${r.jobs.length === 0 ? 'none due' : `${r.jobs.filter((j) => j.ok).length}/${r.jobs.length} ok`}`,
    '  queries:',
    ...r.queries.map((q) => `    ${q.name}: ${q.rows} rows in ${q.ms} ms`),
    `  compression: ${r.compression.compressedChunks}/${r.compression.chunks} chunks of metrics compressed, ${formatBytes(r.compression.beforeBytes)} → ${formatBytes(r.compression.afterBytes)} (${pct(r.compression.saved)} saved)`,
    `  backup:      ${r.backup.id}, ${formatBytes(r.backup.bytes)}, sha256 ${r.backup.sha256}`,
    `  drill:       ${r.drill.result.toUpperCase()}: restored in ${r.drill.rtoSeconds?.toFixed(1) ?? '?'} s (RTO), drill ${r.drill.seconds.toFixed(1)} s${r.drill.differences.length ? `; differences: ${r.drill.differences.join('; ')}` : ', fingerprint identical'}`,
    '  connect with psql:',
    ...r.psql.map((line) => `    ${line}`),
  ].join('\n');
}

export const quickstartCommand = new Command('quickstart')
  .description('the whole lifecycle on the embedded database: migrate, seed, jobs, backup, restore drill, report')
  .option('--embedded-dir <dir>', 'data directory (or AETHERLENS_EMBEDDED_DIR)')
  .option('--dir <dir>', 'backup directory (or AETHERLENS_BACKUP_DIR)')
  .option('--json', 'print the report as JSON')
  .action(async (options: GlobalOptions) => {
    const settings = settingsFrom(options);
    const dataDir = targetTraits(settings.target).inProcessDataDir;
    if (dataDir === undefined) throw new OpsError('CONFIG', 'quickstart runs on the embedded database: unset DATABASE_URL / AETHERLENS_DB_CONTAINER (or use migrate, seed and backup against your server)');
    const report = await quickstart({
      dataDir,
      backupDir: settings.backupDir,
      logger: loggerFor(options),
      ...(settings.adminPassword ? { adminPassword: settings.adminPassword } : {}),
    });
    const { adminPassword, ...shown } = report;
    output(options, shown, formatReport);
    if (adminPassword) process.stderr.write(`created user admin with password: ${adminPassword} (shown once; stored only as a hash)\n`);
    if (report.drill.result === 'failed' || !report.inventory.ok) process.exitCode = 1;
  });
