import { Command, CommanderError } from 'commander';
import { AETHERLENS_VERSION, compileWasmOnce, isOpsError, redact, rememberEnvironmentSecrets } from './lib/index.js';
import { migrateCommand } from './commands/migrate.js';
import { statusCommand } from './commands/status.js';
import { inventoryCommand } from './commands/inventory.js';
import { adoptCommand } from './commands/adopt.js';
import { localCommand } from './commands/local.js';
import { jobsCommand } from './commands/jobs.js';
import { jobCommand } from './commands/job.js';
import { seedCommand } from './commands/seed.js';
import { quickstartCommand } from './commands/quickstart.js';
import { scheduleCommand } from './commands/schedule.js';
import { backupCommand } from './commands/backup.js';
import { backupsCommand } from './commands/backups.js';
import { rotateCommand } from './commands/rotate.js';
import { verifyCommand } from './commands/verify.js';
import { restoreCommand } from './commands/restore.js';
import { upgradeCommand } from './commands/upgrade.js';

const program = new Command('aetherlens-db')
  .description('migrate, seed, back up, restore and drill the AetherLens TimescaleDB database')
  .version(AETHERLENS_VERSION, '-V, --version', 'print the version of aetherlens-db')
  .option('--debug', 'print stack traces for errors')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

const commands = [
  migrateCommand,
  statusCommand,
  inventoryCommand,
  adoptCommand,
  seedCommand,
  quickstartCommand,
  localCommand,
  jobsCommand,
  jobCommand,
  scheduleCommand,
  backupCommand,
  backupsCommand,
  rotateCommand,
  verifyCommand,
  restoreCommand,
  upgradeCommand,
];
for (const command of commands) {
  program.addCommand(command);
}
// Commands that run for seconds skip WebAssembly's optimizing tier (wasmTier.ts); the ones that
// stay up (a served engine, the scheduler) keep it.
const LONG_RUNNING = new Set(['local serve', 'schedule']);
program.hook('preAction', (_program, action) => {
  const name = action.parent && action.parent !== program ? `${action.parent.name()} ${action.name()}` : action.name();
  if (!LONG_RUNNING.has(name)) compileWasmOnce();
});
// Every (sub)command reports usage errors to our boundary instead of exiting on its own.
const exitOverrideAll = (command: Command): void => {
  command.exitOverride();
  command.commands.forEach(exitOverrideAll);
};
exitOverrideAll(program);

function isDatabaseError(error: unknown): error is Error & { code: string; severity: string; hint?: string } {
  return error instanceof Error && typeof (error as { severity?: unknown }).severity === 'string' && typeof (error as { code?: unknown }).code === 'string';
}

const debug = process.argv.includes('--debug');
// Before anything can fail: redact() then blanks these (and every secret read later) everywhere.
rememberEnvironmentSecrets(process.env);

/** The one error boundary: operator errors print their message, bugs print in full. */
try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version are not errors; anything else commander rejects is bad usage (exit 2).
    process.exitCode = error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0 ? 0 : 2;
  } else if (isOpsError(error)) {
    process.stderr.write(`error: ${redact(error.message)}\n`);
    const excerpt = (error.details as { excerpt?: string } | undefined)?.excerpt;
    if (excerpt) process.stderr.write(`${redact(excerpt).replace(/^/gm, '    ')}\n`);
    if (debug) process.stderr.write(`${redact(String(error.stack))}\n`);
    process.exitCode = error.exitCode;
  } else if (isDatabaseError(error)) {
    // A server-side error outside the paths that translate their own: operational, not a bug.
    process.stderr.write(`error: the database refused an operation: ${redact(error.message)}${error.hint ? ` (hint: ${redact(error.hint)})` : ''}\n`);
    if (debug) process.stderr.write(`${redact(String(error.stack))}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`internal error (a bug in aetherlens-db, please report it): ${redact(debug ? String((error as Error).stack) : String((error as Error).message ?? error))}\n`);
    process.exitCode = 1;
  }
}
