import { readFile } from 'node:fs/promises';
import { expect, test } from 'vitest';
import { runCli } from '../support/cli.js';

test('--version prints the package version and exits 0', async () => {
  const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const r = await runCli([flag], {});
    expect({ code: r.exitCode, out: r.stdout.trim(), err: r.stderr }).toEqual({ code: 0, out: version, err: '' });
  }
});
