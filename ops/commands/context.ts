import { InvalidArgumentError, type Command } from 'commander';
import { resolveSettings, consoleLogger, stopBusyEngines, type CommonFlags, type Settings, type Logger } from '../lib/index.js';

/** Options every command shares: where the database is and how to print. */
export interface GlobalOptions {
  container?: string;
  embeddedDir?: string;
  dir?: string;
  migrationsDir?: string;
  json?: boolean;
  debug?: boolean;
}

export function withTargetOptions(command: Command): Command {
  return command
    .option('--container <name>', 'the Docker container that runs the database (or AETHERLENS_DB_CONTAINER)')
    .option('--embedded-dir <dir>', 'data directory of the embedded database (or AETHERLENS_EMBEDDED_DIR)')
    .option('--migrations-dir <dir>', 'folder holding versions/ and init/ (default: the bundled migrations)');
}

/** Flags some commands add to the common ones; each is a setting the resolver knows. */
type SettingFlags = Pick<CommonFlags, 'jobsDir' | 'statusFile' | 'maxAge' | 'keepDaily' | 'keepWeekly' | 'keepMonthly'>;
const SETTING_FLAGS = ['container', 'embeddedDir', 'dir', 'migrationsDir', 'jobsDir', 'statusFile', 'maxAge', 'keepDaily', 'keepWeekly', 'keepMonthly'] as const;

/**
 * Settings resolved once from this command's flags and the environment; `schedule` asks for the
 * scheduler's settings too, so that every problem is in the same one error.
 */
export function settingsFrom(options: GlobalOptions & SettingFlags, extra: Pick<CommonFlags, 'schedule'> = {}): Settings {
  const flags: CommonFlags = { ...extra };
  for (const name of SETTING_FLAGS) if (options[name]) flags[name] = options[name];
  return resolveSettings(flags);
}

export function loggerFor(_options: GlobalOptions): Logger {
  return consoleLogger(process.stderr);
}

/** Prints data as JSON on stdout, or as the readable text `format` makes. */
export function output<T>(options: GlobalOptions, data: T, format: (data: T) => string): void {
  process.stdout.write(options.json ? `${JSON.stringify(data, null, 2)}\n` : `${format(data)}\n`);
}

/** Parses a positive integer flag or throws a usage error naming the flag. */
export function parseVersion(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} takes a migration number such as 3`);
    return n;
  };
}

/**
 * Runs `fn` with an AbortSignal that Ctrl-C or a service stop (SIGINT/SIGTERM) fires, so the
 * library can stop cleanly and remove what it wrote. The listeners stay attached (`on`, not
 * `once`) until `fn` is done: signal-exit, under execa, re-raises a signal
 * that only it still listens to, which would kill the process before the cleanup ran.
 */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const stop = () => {
    controller.abort();
    // An embedded statement does not look at the signal: its engine is stopped if it runs on.
    void stopBusyEngines();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    return await fn(controller.signal);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
