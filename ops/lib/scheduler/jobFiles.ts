import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { delimiter, extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { OpsError } from '../errors.js';
import type { Environment } from '../settings/variables.js';

/** The job scripts that ship with aetherlens-db (ops/jobs/). */
export const SHIPPED_JOBS_DIR = fileURLToPath(new URL('../../jobs', import.meta.url));
/** The CLI entry, for scripts that call `aetherlens-db`. */
export const CLI_ENTRY = fileURLToPath(new URL('../../../bin/aetherlens-db.js', import.meta.url));
/** Holds an `aetherlens-db` wrapper; put first on a job's PATH so any script can call the CLI by name. */
export const JOBS_BIN_DIR = join(SHIPPED_JOBS_DIR, 'bin');

/** Script files run with node (TypeScript through tsx); anything else runs by its shebang. */
const NODE_EXTENSIONS = ['.ts', '.mts', '.mjs', '.js'];
const CANDIDATE_EXTENSIONS = [...NODE_EXTENSIONS, '.sh', ''];
const NAME = /^[a-z0-9][a-z0-9_-]*$/i;

export interface JobScript {
  name: string;
  file: string;
  /** Where it was found: the shipped jobs or the operator's directory. */
  origin: 'shipped' | 'operator';
}

const require = createRequire(import.meta.url);

/** Modules every node job is started with: tsx (TypeScript) and zx's globals ($, retry, within, fs, path). */
function nodeImports(): string[] {
  return [pathToFileURL(require.resolve('tsx')).href, pathToFileURL(require.resolve('zx/globals')).href];
}

async function scriptIn(dir: string, name: string): Promise<string | undefined> {
  for (const ext of CANDIDATE_EXTENSIONS) {
    const file = join(dir, `${name}${ext}`);
    if (await stat(file).then((s) => s.isFile(), () => false)) return file;
  }
  return undefined;
}

/** Job directories in the order they are searched: shipped first, the operator's after it (and winning on a name). */
export function jobDirs(operatorDir: string | undefined): Array<{ dir: string; origin: JobScript['origin'] }> {
  return [{ dir: SHIPPED_JOBS_DIR, origin: 'shipped' }, ...(operatorDir ? [{ dir: resolve(operatorDir), origin: 'operator' as const }] : [])];
}

/** Every job: the shipped ones, replaced by the operator's of the same name, plus the operator's own. */
export async function listJobs(operatorDir: string | undefined): Promise<JobScript[]> {
  const jobs = new Map<string, JobScript>();
  for (const { dir, origin } of jobDirs(operatorDir)) {
    const files = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const f of files) {
      if (!f.isFile()) continue;
      const ext = CANDIDATE_EXTENSIONS.find((e) => e !== '' && f.name.endsWith(e)) ?? '';
      const name = ext ? f.name.slice(0, -ext.length) : f.name;
      if (NAME.test(name)) jobs.set(name, { name, file: join(dir, f.name), origin });
    }
  }
  return [...jobs.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Finds job `name` (the operator's directory wins over the shipped one) and checks it can run.
 * Throws a one-line error naming what is wrong and how to fix it.
 */
export async function findJob(name: string, operatorDir: string | undefined): Promise<JobScript> {
  if (!NAME.test(name)) throw new OpsError('USAGE', `"${name}" is not a job name: use letters, digits, - and _ (aetherlens-db job list shows the jobs)`);
  let found: JobScript | undefined;
  for (const { dir, origin } of jobDirs(operatorDir)) {
    const file = await scriptIn(dir, name);
    if (file) found = { name, file, origin };
  }
  if (!found) {
    const known = (await listJobs(operatorDir)).map((j) => j.name).join(', ');
    throw new OpsError('USAGE', `there is no job "${name}" in ${jobDirs(operatorDir).map((d) => d.dir).join(' or ')}: the jobs are ${known || 'none'}`);
  }
  if (!NODE_EXTENSIONS.includes(extname(found.file))) {
    const executable = await access(found.file, constants.X_OK).then(() => true, () => false);
    if (!executable) throw new OpsError('CONFIG', `the job script ${found.file} is not executable: chmod +x ${found.file}, or name it ${name}.ts to run it with node`);
  }
  return found;
}

/** The program and arguments that run a job script. */
export function jobCommand(job: JobScript): { command: string; args: string[] } {
  if (NODE_EXTENSIONS.includes(extname(job.file))) {
    return { command: process.execPath, args: [...nodeImports().flatMap((m) => ['--import', m]), job.file] };
  }
  return { command: job.file, args: [] };
}

/** The environment a job runs with: `base` (from Settings), with the CLI callable as `aetherlens-db`, and where it is. */
export function jobEnvironment(base: Environment): Environment {
  return { ...base, PATH: `${JOBS_BIN_DIR}${delimiter}${base.PATH ?? ''}`, AETHERLENS_NODE: process.execPath, AETHERLENS_DB_CLI: CLI_ENTRY };
}
