import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OpsError } from '../errors.js';

/** The repository's migrations folder (data read by the library, DESIGN section 1). */
export const DEFAULT_MIGRATIONS_DIR = resolve(fileURLToPath(new URL('../../../migrations', import.meta.url)));

/** NNN_name.sql: the number orders the files and is the version in the ledger. */
const FILE_PATTERN = /^(\d{3,})_([a-z0-9_]+)\.sql$/;

export interface MigrationFile {
  version: number;
  name: string;
  fileName: string;
  path: string;
  sql: string;
  /** sha256 of the file's bytes, hex. */
  checksum: string;
  /** From a `-- requires: community` header: needs compression/caggs/policies. */
  requiresCommunity: boolean;
  /** From a `-- transaction: none` header (also inferred from the statements, see plan.ts). */
  noTransaction: boolean;
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Reads the leading comment block's `-- key: value` directives. */
function headerDirectives(sql: string): Map<string, string> {
  const directives = new Map<string, string>();
  for (const line of sql.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    if (!trimmed.startsWith('--')) break;
    const match = /^--\s*(requires|transaction)\s*:\s*(\S+)/i.exec(trimmed);
    if (match) directives.set(match[1]!.toLowerCase(), match[2]!.toLowerCase());
  }
  return directives;
}

/** Loads migrations/versions in order; refuses duplicate numbers and misnamed .sql files. */
export async function loadMigrations(dir = DEFAULT_MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const versionsDir = join(dir, 'versions');
  let names: string[];
  try {
    names = await readdir(versionsDir);
  } catch {
    throw new OpsError('CONFIG', `migrations folder ${versionsDir} cannot be read: set --migrations-dir to the folder that holds versions/`);
  }
  const files: MigrationFile[] = [];
  const seen = new Map<number, string>();
  for (const fileName of names.sort()) {
    if (!fileName.endsWith('.sql')) continue;
    const match = FILE_PATTERN.exec(fileName);
    if (!match) throw new OpsError('CONFIG', `migration file ${fileName} is not named NNN_name.sql (lowercase, digits, underscores): rename it`);
    const version = Number(match[1]);
    const clash = seen.get(version);
    if (clash) throw new OpsError('CONFIG', `migrations ${clash} and ${fileName} share version ${version}: renumber one of them`);
    seen.set(version, fileName);
    const path = join(versionsDir, fileName);
    const bytes = await readFile(path);
    const sql = bytes.toString('utf8');
    const directives = headerDirectives(sql);
    files.push({
      version,
      name: match[2]!,
      fileName,
      path,
      sql,
      checksum: sha256(bytes),
      requiresCommunity: directives.get('requires') === 'community',
      noTransaction: directives.get('transaction') === 'none',
    });
  }
  return files.sort((a, b) => a.version - b.version);
}

/** Init scripts run by the container's entrypoint on first start (migrations/init). */
export async function loadInitScripts(dir = DEFAULT_MIGRATIONS_DIR): Promise<{ fileName: string; path: string; sql: string }[]> {
  const initDir = join(dir, 'init');
  const names = (await readdir(initDir)).filter((n) => n.endsWith('.sql') || n.endsWith('.sh')).sort();
  return Promise.all(names.map(async (fileName) => ({ fileName, path: join(initDir, fileName), sql: await readFile(join(initDir, fileName), 'utf8') })));
}

/**
 * One checksum for the whole migration set (init scripts and versions): the Pulumi post-deploy
 * step re-runs exactly when this changes.
 */
export async function migrationSetChecksum(dir = DEFAULT_MIGRATIONS_DIR): Promise<string> {
  const versions = await loadMigrations(dir);
  const init = await loadInitScripts(dir);
  const lines = [
    ...init.map((f) => `init/${f.fileName}:${sha256(f.sql)}`),
    ...versions.map((m) => `versions/${m.fileName}:${m.checksum}`),
  ];
  return sha256(lines.join('\n'));
}
