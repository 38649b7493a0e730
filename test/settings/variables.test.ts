import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { AETHERLENS_VARIABLES, KNOWN_ENV, STANDARD_VARIABLES } from '../../ops/lib/index.js';
import { resolveSettings } from '../../ops/lib/config.js';

const README = join(import.meta.dirname, '..', '..', 'README.md');

/** The variable names in the first column of the README's "Environment variables" table. */
async function readmeVariables(): Promise<string[]> {
  const text = await readFile(README, 'utf8');
  const section = text.split('### Environment variables')[1]?.split(/\n#{2,3} /)[0] ?? '';
  return [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]!);
}

describe('one list knows every variable', () => {
  test("the README's table lists exactly the variables of ops/lib/settings/variables.ts, in order", async () => {
    expect(await readmeVariables()).toEqual([...AETHERLENS_VARIABLES, ...STANDARD_VARIABLES].map((v) => v.name));
  });

  test('every AETHERLENS_* variable of the list is accepted, and one that is not there is refused', () => {
    const all = Object.fromEntries(KNOWN_ENV.map((name) => [name, '']));
    expect(() => resolveSettings({}, all)).not.toThrow();
    expect(() => resolveSettings({}, { AETHERLENS_SAMPLE_DATA: 'false' })).toThrow('AETHERLENS_SAMPLE_DATA is not a setting aetherlens-db knows');
  });
});
