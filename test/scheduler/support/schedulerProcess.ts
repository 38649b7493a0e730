import { spawn, type ChildProcess } from 'node:child_process';
import { CLI } from '../../support/cli.js';

export interface LogLine {
  time: string;
  level: string;
  msg: string;
  event?: string;
  [key: string]: unknown;
}

/**
 * The real `aetherlens-db schedule` in a child process: its JSON log lines parsed as they come,
 * stderr kept, and helpers to wait for a line and for the exit.
 */
export function spawnScheduler(args: string[], env: Record<string, string | undefined>) {
  const child: ChildProcess = spawn(process.execPath, [CLI, 'schedule', ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  const raw: string[] = [];
  let stderr = '';
  let buffer = '';
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      raw.push(text);
      try {
        lines.push(JSON.parse(text) as LogLine);
      } catch {
        lines.push({ time: '', level: 'unparsed', msg: text });
      }
      for (const w of [...waiters]) w();
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    lines,
    raw,
    stderr: () => stderr,
    exited,
    /** Resolves with the first line matching `test`, or rejects after `ms` (or when the process exits). */
    waitFor(test: (l: LogLine) => boolean, ms = 60_000): Promise<LogLine> {
      const found = lines.find(test);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.find(test);
          if (hit) {
            cleanup();
            resolve(hit);
          }
        };
        const timer = setTimeout(() => (cleanup(), reject(new Error(`no matching log line within ${ms} ms; stderr: ${stderr}; lines: ${raw.join('\n')}`))), ms);
        void exited.then(() => setTimeout(() => (cleanup(), reject(new Error(`the scheduler exited; stderr: ${stderr}; lines: ${raw.join('\n')}`))), 100));
        const cleanup = () => {
          clearTimeout(timer);
          const i = waiters.indexOf(check);
          if (i >= 0) waiters.splice(i, 1);
        };
        waiters.push(check);
      });
    },
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      child.kill(signal);
    },
  };
}
