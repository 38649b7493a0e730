import { Command } from 'commander';
import { inventory, withTarget, type Inventory } from '../lib/index.js';
import { output, settingsFrom, withTargetOptions, type GlobalOptions } from './context.js';

const mark = (ok: boolean) => (ok ? 'ok  ' : 'MISS');

function formatInventory(inv: Inventory): string {
  const t = (name: string, tally: { expected: string[]; present: string[]; missing: string[]; ok: boolean }, extra = '') =>
    `${mark(tally.ok)} ${name.padEnd(22)} ${tally.present.length}/${tally.expected.length}${extra}${tally.missing.length ? `  missing: ${tally.missing.join(', ')}` : ''}`;
  const intervals = Object.entries(inv.hypertables.chunkIntervals).map(([k, v]) => `${k} ${v}`).join(', ');
  return [
    `PostgreSQL ${inv.serverVersion}, TimescaleDB ${inv.timescaleVersion ?? 'not installed'} (${inv.edition ?? 'unknown'} edition), migration head ${inv.migrationHead ?? 'none'}`,
    t('tables', inv.tables),
    t('hypertables (7 days)', inv.hypertables, intervals ? `  (${intervals})` : ''),
    t('indexes (valid)', inv.indexes, inv.indexes.invalid.length ? `  INVALID: ${inv.indexes.invalid.join(', ')}` : ''),
    t('continuous aggregates', inv.continuousAggregates),
    t('views', inv.views),
    t('policies', inv.policies),
    inv.ok ? 'everything the migrations promise is present' : 'some promised objects are missing (see above)',
  ].join('\n');
}

export const inventoryCommand = withTargetOptions(new Command('inventory'))
  .description('compare what exists with what the migrations promise')
  .option('--json', 'print the inventory as JSON')
  .action(async (options: GlobalOptions) => {
    const settings = settingsFrom(options);
    const inv = await withTarget(settings.target, 'inventory', (target) => inventory({ target, migrationsDir: settings.migrationsDir }));
    output(options, inv, formatInventory);
    if (!inv.ok) process.exitCode = 1;
  });
