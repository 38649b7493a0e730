import { Command } from 'commander';
import { migrationStatus, withTarget, type StatusResult } from '../lib/index.js';
import { output, settingsFrom, withTargetOptions, type GlobalOptions } from './context.js';

function formatStatus(status: StatusResult): string {
  const rows = status.migrations.map((m) => `  ${String(m.version).padStart(3, '0')} ${m.name.padEnd(28)} ${m.state}${m.adopted ? ' (adopted)' : ''}${m.appliedAt ? `  ${m.appliedAt}` : ''}`);
  return [
    `head: ${status.head ?? 'none'}   pending: ${status.pending}   TimescaleDB: ${status.timescaleVersion ?? 'not installed'} (${status.edition ?? 'unknown'} edition)`,
    ...rows,
    ...status.problems.map((p) => `problem: ${p}`),
  ].join('\n');
}

export const statusCommand = withTargetOptions(new Command('status'))
  .description('show applied, pending and drifted migrations')
  .option('--json', 'print the status as JSON')
  .action(async (options: GlobalOptions) => {
    const settings = settingsFrom(options);
    const status = await withTarget(settings.target, 'status', (target) => migrationStatus({ connection: target.connection, migrationsDir: settings.migrationsDir }));
    output(options, status, formatStatus);
    if (status.problems.length > 0) process.exitCode = 1;
  });
