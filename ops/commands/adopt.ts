import { Command } from 'commander';
import { adopt, withTarget } from '../lib/index.js';
import { loggerFor, output, parseVersion, settingsFrom, withTargetOptions, type GlobalOptions } from './context.js';

export const adoptCommand = withTargetOptions(new Command('adopt'))
  .description('record a database built by the original hand-run SQL scripts in the migration ledger')
  .requiredOption('--to <version>', 'the last migration the database already has', parseVersion('--to'))
  .option('--json', 'print the result as JSON')
  .action(async (options: GlobalOptions & { to: number }) => {
    const settings = settingsFrom(options);
    const result = await withTarget(settings.target, 'adopt', (target) =>
      adopt({ target, to: options.to, migrationsDir: settings.migrationsDir, logger: loggerFor(options) }));
    output(options, result, (r) => `adopted migrations ${r.adopted.join(', ')}; run migrate to apply the rest`);
  });
