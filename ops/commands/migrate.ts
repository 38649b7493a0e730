import { Command } from 'commander';
import { migrate, withTarget, type MigrateResult } from '../lib/index.js';
import { loggerFor, output, parseVersion, settingsFrom, withTargetOptions, type GlobalOptions } from './context.js';

function formatMigrate(result: MigrateResult): string {
  if (result.dryRun) {
    if (result.planned.length === 0) return `nothing to apply: the database is at ${result.headBefore ?? 'no migrations'}`;
    const lines = result.planned.map((p) => `  ${p.fileName}  ${p.statements} statements, ${p.transaction ? 'one transaction' : 'outside a transaction'}${p.requiresCommunity ? ', needs the community edition' : ''}`);
    return [`would apply ${result.planned.length} migration(s) to the database at ${result.headBefore ?? 'no migrations'}:`, ...lines].join('\n');
  }
  return result.applied.length === 0
    ? `up to date at ${result.head}`
    : `applied ${result.applied.length} migration(s); the database is at ${result.head}`;
}

export const migrateCommand = withTargetOptions(new Command('migrate'))
  .description('apply pending migrations in order, each in its own transaction where possible')
  .option('--to <version>', 'stop after this migration version', parseVersion('--to'))
  .option('--dry-run', 'print the plan and change nothing')
  .option('--json', 'print the result as JSON')
  .action(async (options: GlobalOptions & { to?: number; dryRun?: boolean }) => {
    const settings = settingsFrom(options);
    const result = await withTarget(settings.target, 'migrate', (target) =>
      migrate({
        target,
        migrationsDir: settings.migrationsDir,
        lockTimeoutMs: settings.lockTimeoutMs,
        appliedBy: settings.appliedBy,
        logger: loggerFor(options),
        ...(options.to !== undefined ? { to: options.to } : {}),
        ...(options.dryRun ? { dryRun: true } : {}),
      }),
    );
    output(options, result, formatMigrate);
  });
