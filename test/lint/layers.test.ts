import { ESLint } from 'eslint';
import { describe, expect, test } from 'vitest';

// Each rule of eslint.config.js that keeps the layers apart, proven on a planted file: the text is
// linted as if it lived at that path (nothing is written), so the project's own config decides.
const eslint = new ESLint({ cwd: process.cwd() });

async function messages(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-syntax' || m.ruleId === 'no-restricted-imports')
    // ESLint prefixes an import's message with the import itself: keep the project's words.
    .map((m) => `${m.ruleId}: ${m.message.replace(/^'[^']*' import is restricted from being used by a pattern\. /, '')}`);
}

const KIND_COMPARISON = `import type { TargetSpec } from '../config.js';\nexport const local = (spec: TargetSpec) => spec.kind === 'embedded';\n`;
const KIND_SWITCH = `import type { TargetSpec } from '../config.js';\nexport function f(spec: TargetSpec) {\n  switch (spec.kind) {\n    case 'docker':\n      return 1;\n    default:\n      return 0;\n  }\n}\n`;

describe('no target kind is named outside ops/lib/targets/', () => {
  test('a kind comparison in an operation, a command or infra is refused', async () => {
    for (const path of ['ops/lib/backup/planted.ts', 'ops/lib/scheduler/planted.ts', 'ops/commands/planted.ts', 'infra/planted.ts']) {
      expect(await messages(path, KIND_COMPARISON.replace('../config.js', '../lib/index.js'))).toEqual([
        'no-restricted-syntax: only ops/lib/targets/ names a target kind: ask the Target (or targetTraits(spec)) for the capability you need.',
      ]);
    }
  });

  test('a bare `kind !==` and a switch on .kind are refused too', async () => {
    expect(await messages('ops/lib/restore/planted.ts', `export const f = (kind: string) => kind !== 'server';\n`)).toHaveLength(1);
    expect(await messages('ops/lib/restore/planted.ts', KIND_SWITCH)).toEqual([
      'no-restricted-syntax: only ops/lib/targets/ switches on a target kind: its factory (targets/open.ts) maps a kind to its driver.',
    ]);
  });

  test('inside targets/ the same code passes, and other kinds of `kind` pass everywhere', async () => {
    expect(await messages('ops/lib/targets/planted.ts', KIND_COMPARISON)).toEqual([]);
    expect(await messages('ops/lib/targets/planted.ts', KIND_SWITCH)).toEqual([]);
    expect(await messages('ops/lib/embedded/planted.ts', `export const f = (m: { kind: string }) => m.kind === 'ssl';\n`)).toEqual([]);
  });
});

describe('imports never run up the layers', () => {
  test('targets/ imports no operation module', async () => {
    for (const from of ['../../backup/lock.js', '../../restore/drill.js', '../../scheduler/status.js', '../../migrations/runner.js', '../../seed/index.js', '../../upgrade/upgrade.js', '../../quickstart.js', '../../inventory.js', '../../embedded/serve.js']) {
      expect(await messages('ops/lib/targets/server/planted.ts', `export * from '${from}';\n`), from).toEqual([
        'no-restricted-imports: targets are what operations run on: a target never imports an operation.',
      ]);
    }
    expect(await messages('ops/lib/targets/server/planted.ts', `export * from '../../embedded/engine.js';\nexport * from '../../pg.js';\n`)).toEqual([]);
  });

  test("an operation reaches a kind only through targets/*.ts, never into a kind's folder", async () => {
    const refused = "no-restricted-imports: only ops/lib/targets/ reaches into a kind's folder: use the Target, its RestoreSite or a shared targets/*.ts module.";
    for (const [path, from] of [
      ['ops/lib/upgrade/planted.ts', '../targets/server/scratch.js'],
      ['ops/lib/restore/planted.ts', '../targets/docker/tools.js'],
      ['ops/lib/backup/planted.ts', '../targets/embedded/target.js'],
      ['ops/lib/planted.ts', './targets/server/pgRestore.js'],
    ]) {
      expect(await messages(path!, `export * from '${from}';\n`), from).toEqual([refused]);
    }
    // The shared modules at the top of targets/ are the way in; inside targets/ a kind's folder is open.
    expect(await messages('ops/lib/upgrade/planted.ts', `export * from '../targets/maintenance.js';\nexport * from '../targets/restoreSite.js';\nexport * from '../targets/open.js';\n`)).toEqual([]);
    expect(await messages('ops/lib/targets/planted.ts', `export * from './server/scratch.js';\n`)).toEqual([]);
    expect(await messages('ops/lib/targets/docker/planted.ts', `export * from '../server/restoreSite.js';\n`)).toEqual([]);
  });

  test('the embedded engine imports no target (the sideways import)', async () => {
    expect(await messages('ops/lib/embedded/planted.ts', `export * from '../targets/embedded/target.js';\n`)).toEqual([
      'no-restricted-imports: the embedded engine is below targets/: it never imports a target (a sideways import makes a cycle).',
    ]);
  });

  test('ops/lib never imports commands, the CLI or infra', async () => {
    for (const from of ['../commands/backup.js', '../cli.js', '../../infra/index.js']) {
      expect(await messages('ops/lib/planted.ts', `export * from '${from}';\n`), from).toEqual([
        'no-restricted-imports: ops/lib is the bottom layer: it never imports the CLI, its commands or the Pulumi program.',
      ]);
    }
  });

  test('commands import only ops/lib/index.ts', async () => {
    expect(await messages('ops/commands/planted.ts', `export * from '../lib/targets/open.js';\n`)).toEqual([
      'no-restricted-imports: commands use the library through its public surface: import from ../lib/index.js.',
    ]);
    expect(await messages('ops/commands/planted.ts', `export * from '../lib/index.js';\n`)).toEqual([]);
  });
});
