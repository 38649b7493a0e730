import { redact, redactStrings } from './secrets.js';

/** The library never prints: it reports through a Logger the caller chooses. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** Progress lines (bytes, elapsed); interactive loggers may overwrite them in place. */
  progress(message: string): void;
}

export const silentLogger: Logger = {
  info: () => {},
  warn: () => {},
  error: () => {},
  progress: () => {},
};

/** Readable lines for interactive commands; progress goes to stderr so `--json` stdout stays clean. */
export function consoleLogger(stream: NodeJS.WriteStream = process.stderr): Logger {
  // Every line passes redact(): no secret the process knows reaches the terminal or a journal.
  const line = (prefix: string) => (message: string) => stream.write(`${prefix}${redact(message)}\n`);
  return {
    info: line(''),
    warn: line('warning: '),
    error: line('error: '),
    progress: (message) => {
      if (stream.isTTY) stream.write(`\r${redact(message)}\x1b[K`);
    },
  };
}

/** Structured JSON lines, for the scheduler and anything read by machines. */
export function jsonLogger(write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  const emit = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    // Each string value is redacted on its own, so the line stays valid JSON whatever a secret holds.
    write(`${JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...fields }, redactStrings)}\n`);
  return { info: emit('info'), warn: emit('warn'), error: emit('error'), progress: () => {} };
}

/** Collects what was logged; used by tests and by commands that report at the end. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (prefix: string) => (message: string) => void lines.push(`${prefix}${redact(message)}`);
  return { lines, info: push(''), warn: push('warning: '), error: push('error: '), progress: () => {} };
}
