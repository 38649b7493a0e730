import { execa, type ResultPromise } from 'execa';
import { CLI } from './cli.js';

/**
 * `aetherlens-db local serve` on `dataDir` in a child process; resolves once it prints its psql
 * line, with the URL from it. Wrapped in an object: the subprocess is itself a promise, which an
 * async function would wait for. `forceKillAfterDelay: false` keeps execa from sending SIGKILL
 * 5 s after a kill(), for tests that time how a signal is handled.
 */
export async function serveCli(dataDir: string, port: number, options: { forceKillAfterDelay?: false } = {}): Promise<{ child: ResultPromise; url: string }> {
  const child = execa(process.execPath, [CLI, 'local', 'serve', '--port', String(port)], { env: { AETHERLENS_EMBEDDED_DIR: dataDir }, reject: false, ...options });
  let out = '';
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`serve did not start: ${out}`)), 90_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /connect: psql "([^"]+)"/.exec(out);
      if (match) {
        clearTimeout(timer);
        ok(match[1]!);
      }
    });
    void child.then((r) => fail(new Error(`serve exited ${r.exitCode}: ${r.stderr}`)));
  });
  return { child, url };
}
