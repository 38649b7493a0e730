// infra/post-deploy.sh's own logic against a stand-in CLI, and the parsing of `status --json`.
// test/e2e/stack.docker.test.ts runs the step against the real CLI and a real container.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseMigrationHead, POST_DEPLOY_COMMAND, postDeployCommand } from '../../infra/postDeploy.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = join(REPO_ROOT, 'infra', 'post-deploy.sh');
const URL_WITH_SECRET = 'postgres://aetherlens:S3cret-In-Env@127.0.0.1:5432/aetherlens';

/** Records each call; prints progress on stderr; fails the command named in STUB_FAIL like the CLI does. */
const STUB_CLI = `
import { appendFileSync } from 'node:fs';
const [command] = process.argv.slice(2);
appendFileSync('calls.log', JSON.stringify({ argv: process.argv.slice(2), url: process.env.DATABASE_URL }) + '\\n');
process.stderr.write('connecting to the database\\n');
if (command !== 'status') process.stdout.write('migrated: progress that must not reach the output\\n');
if (process.env.STUB_FAIL === command) {
  process.stderr.write('applying 002_metrics.sql\\n');
  process.stderr.write(process.env.STUB_MESSAGE + '\\n');
  process.exit(Number(process.env.STUB_CODE));
}
if (command === 'status') process.stdout.write('{"head":2,"pending":[]}\\n');
`;

async function runScript(env: Record<string, string>, args: string[] = []): Promise<{ code: number; stdout: string; stderr: string; calls: { argv: string[]; url: string }[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'aetherlens-post-deploy-'));
  await mkdir(join(dir, 'bin'));
  await writeFile(join(dir, 'bin', 'aetherlens-db.js'), STUB_CLI);
  await writeFile(join(dir, 'package.json'), '{"type":"module"}');
  const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile('sh', [SCRIPT, ...args], { cwd: dir, env: { PATH: process.env.PATH ?? '', DATABASE_URL: URL_WITH_SECRET, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
  const log = await readFile(join(dir, 'calls.log'), 'utf8').catch(() => '');
  const calls = log.trim() === '' ? [] : log.trim().split('\n').map((line) => JSON.parse(line) as { argv: string[]; url: string });
  return { ...result, calls };
}

describe('infra/post-deploy.sh', () => {
  it('is what the Command runs', () => {
    expect(POST_DEPLOY_COMMAND).toBe('sh infra/post-deploy.sh');
    expect(postDeployCommand(true)).toBe('sh infra/post-deploy.sh --seed');
    expect(postDeployCommand(false)).toBe('sh infra/post-deploy.sh');
  });

  it('with a container, runs upgrade first (a new major\'s empty database gets the old data before migrate and seed), in the container, without DATABASE_URL', async () => {
    const run = await runScript({ DB_CONTAINER: 'aetherlens-timescaledb' }, ['--seed']);
    expect(run).toMatchObject({ code: 0, stdout: '{"head":2,"pending":[]}\n', stderr: '' });
    expect(run.calls.map((c) => c.argv)).toEqual([['upgrade', '--container', 'aetherlens-timescaledb'], ['migrate'], ['seed'], ['status', '--json']]);
    expect(run.calls[0]!.url).toBeUndefined();
  });

  it('migrates, seeds, and prints only the status JSON, with DATABASE_URL in the environment only', async () => {
    const run = await runScript({}, ['--seed']);
    expect(run).toMatchObject({ code: 0, stdout: '{"head":2,"pending":[]}\n', stderr: '' });
    expect(run.calls.map((c) => c.argv)).toEqual([['migrate'], ['seed'], ['status', '--json']]);
    for (const call of run.calls) {
      expect(call.url).toBe(URL_WITH_SECRET);
      expect(call.argv.join(' ')).not.toContain('S3cret');
    }
  });

  it('skips the seed without sample data', async () => {
    const run = await runScript({});
    expect(run.code).toBe(0);
    expect(run.calls.map((c) => c.argv[0])).toEqual(['migrate', 'status']);
  });

  it("fails with the runner's own one-line message and exit code", async () => {
    const message = 'migration 002_metrics.sql failed at line 3: relation "devices" does not exist';
    const run = await runScript({ STUB_FAIL: 'migrate', STUB_MESSAGE: message, STUB_CODE: '1' }, ['--seed']);
    expect(run).toMatchObject({ code: 1, stdout: '', stderr: `${message}\n` });
    expect(run.calls.map((c) => c.argv[0])).toEqual(['migrate']);

    const config = await runScript({ STUB_FAIL: 'seed', STUB_MESSAGE: 'DATABASE_URL is not a postgres:// URL', STUB_CODE: '2' }, ['--seed']);
    expect(config).toMatchObject({ code: 2, stderr: 'DATABASE_URL is not a postgres:// URL\n' });
  });
});

describe('parseMigrationHead', () => {
  it('reads the head field of status --json', () => {
    expect(parseMigrationHead('{"head":3,"pending":[]}')).toBe('3');
    expect(parseMigrationHead('{"head":"007"}')).toBe('007');
    expect(parseMigrationHead('{"head":null}')).toBe('none');
  });

  it('refuses output that is not the status JSON', () => {
    expect(() => parseMigrationHead('migrated 3 files')).toThrow('aetherlens-db status --json printed something that is not JSON');
    expect(() => parseMigrationHead('{"head":{"version":3}}')).toThrow('no usable "head" field');
  });
});
