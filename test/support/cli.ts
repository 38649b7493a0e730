import { execa } from 'execa';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../bin/aetherlens-db.js', import.meta.url));

/** Runs the real CLI in a child process, with only the environment we give it (plus PATH). */
export async function runCli(args: string[], env: Record<string, string | undefined> = {}, options: { timeoutMs?: number } = {}) {
  const result = await execa(process.execPath, [CLI, ...args], {
    reject: false,
    extendEnv: false,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    timeout: options.timeoutMs ?? 120_000,
  });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}
