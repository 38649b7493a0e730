import { Command } from 'commander';
import { seed, withTarget, type SeedSummary } from '../lib/index.js';
import { loggerFor, output, settingsFrom, withTargetOptions, type GlobalOptions, withInterrupt } from './context.js';

interface SeedFlags extends GlobalOptions {
  devices?: string;
  days?: string;
  interval?: string;
  randomSeed?: string;
  end?: string;
  replace?: boolean;
}

/** Numbers are validated by the library, which names the limit and its reason. */
const num = (value: string | undefined) => (value === undefined ? undefined : Number(value));

function formatSeed(s: SeedSummary): string {
  return [
    `seeded ${s.devices} devices, ${s.rateSchedules} rate schedules, ${s.users} users`,
    `metrics: ${s.metricsRows.toLocaleString('en-US')} rows, cost_calculations: ${s.costRows.toLocaleString('en-US')} rows (${s.writtenRows.toLocaleString('en-US')} written now by ${s.method === 'copy' ? 'COPY' : 'INSERT'} on ${s.sessions} session${s.sessions === 1 ? '' : 's'}, ${s.seconds.toFixed(1)} s)`,
    `window: ${s.start.toISOString()} to ${s.end.toISOString()} every ${s.intervalSeconds} s`,
  ].join('\n');
}

export const seedCommand = withTargetOptions(new Command('seed'))
  .description('load the sample data: reference rows, then realistic readings and their cost (idempotent)')
  .option('--devices <n>', 'devices with readings (the 3 reference devices, then synthetic ones)')
  .option('--days <n>', 'days of readings ending now')
  .option('--interval <duration>', 'reading interval that divides a day: 1m, 5m, 15m, 1h …')
  .option('--random-seed <n>', 'the same seed gives the same readings')
  .option('--end <time>', 'end of the window (default: now)')
  .option('--replace', 'rewrite readings even where they already match')
  .option('--json', 'print the summary as JSON')
  .action(async (options: SeedFlags) => {
    const settings = settingsFrom(options);
    // Ctrl-C stops between batches: what was loaded stays consistent and a rerun finishes it.
    await withInterrupt(async (signal) => {
      const summary = await withTarget(settings.target, 'seed', (target) =>
        seed(target, {
          ...(num(options.devices) !== undefined ? { devices: num(options.devices)! } : {}),
          ...(num(options.days) !== undefined ? { days: num(options.days)! } : {}),
          ...(options.interval !== undefined ? { interval: options.interval } : {}),
          ...(num(options.randomSeed) !== undefined ? { seed: num(options.randomSeed)! } : {}),
          ...(options.end !== undefined ? { end: options.end } : {}),
          ...(options.replace ? { replace: true } : {}),
          ...(settings.adminPassword ? { adminPassword: settings.adminPassword } : {}),
          signal,
        }, loggerFor(options)));
      const { adminPassword, ...rest } = summary;
      output(options, rest, formatSeed);
      // Shown once, on the terminal only: it is stored nowhere but as a hash.
      if (adminPassword) process.stderr.write(`created user admin with password: ${adminPassword}\n(store it now; it is not shown again. Set AETHERLENS_ADMIN_PASSWORD to choose it yourself.)\n`);
    });
  });
