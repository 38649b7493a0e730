import { readdir, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { OpsError } from '../errors.js';
import { readManifest, type Manifest } from './manifest.js';

/**
 * The backup directory holds one folder per backup, named by its id, with manifest.json and the
 * dump inside. Names starting with "." are work in progress (.partial-*, .deleting-*) or locks and
 * are never part of the catalog.
 */
export const BACKUP_ID_PATTERN = /^(\d{8}T\d{6}Z)-([A-Za-z0-9_.-]+)$/;

/**
 * verified: a drill passed. failed: a drill failed. unverified: never drilled. broken: its manifest
 * cannot be read (missing, unreadable, a newer format) or its dump is missing or of the wrong size.
 */
export type BackupStatus = 'verified' | 'unverified' | 'failed' | 'broken';

export interface CatalogEntry {
  id: string;
  /** The backup's folder. */
  path: string;
  /** When the snapshot was taken (from the manifest, else from the id). */
  createdAt: string;
  status: BackupStatus;
  manifest?: Manifest;
  /** The dump file, when the manifest names one. */
  dumpPath?: string;
  /** Why a broken entry is broken. */
  problem?: string;
}

/** A backup id: the snapshot time (UTC, to the second) and the database, e.g. 20261125T061906Z-aetherlens. */
export function backupId(createdAt: Date, database: string): string {
  const stamp = createdAt.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const slug = database.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[.]+/, '_').slice(0, 48) || 'db';
  return `${stamp}-${slug}`;
}

/** The snapshot time encoded in an id. */
export function timeOfId(id: string): Date | undefined {
  const m = BACKUP_ID_PATTERN.exec(id)?.[1];
  if (!m) return undefined;
  return new Date(`${m.slice(0, 4)}-${m.slice(4, 6)}-${m.slice(6, 8)}T${m.slice(9, 11)}:${m.slice(11, 13)}:${m.slice(13, 15)}Z`);
}

/** What the catalog says about a manifest's verification. */
export function statusOf(manifest: Manifest): BackupStatus {
  if (!manifest.verification) return 'unverified';
  return manifest.verification.result === 'passed' ? 'verified' : 'failed';
}

async function entryFor(dir: string, id: string): Promise<CatalogEntry> {
  const path = join(dir, id);
  const fallbackTime = timeOfId(id)!.toISOString();
  let manifest: Manifest;
  try {
    manifest = await readManifest(path);
  } catch (error) {
    const problem = (error as { details?: { problem?: string } }).details?.problem ?? (error as Error).message;
    return { id, path, createdAt: fallbackTime, status: 'broken', problem };
  }
  const dumpPath = join(path, manifest.dump.file);
  const size = await stat(dumpPath).then((s) => s.size, () => undefined);
  const problem = size === undefined ? `the dump ${manifest.dump.file} is missing`
    : size !== manifest.dump.bytes ? `the dump is ${size} bytes, the manifest says ${manifest.dump.bytes}` : undefined;
  return { id, path, createdAt: manifest.createdAt, status: problem ? 'broken' : statusOf(manifest), manifest, dumpPath, ...(problem ? { problem } : {}) };
}

/**
 * Every backup in `dir`, oldest first. Reads manifests and file sizes only (checksums are the
 * drill's job). A missing directory is an empty catalog.
 */
export async function listCatalog(dir: string): Promise<CatalogEntry[]> {
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory() && BACKUP_ID_PATTERN.test(d.name)).map((d) => d.name);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    throw new OpsError('BACKUP', `cannot read the backup directory ${dir}: ${(error as Error).message}`, { cause: error });
  }
  const entries = await Promise.all(names.map((id) => entryFor(dir, id)));
  return entries.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
}

/**
 * One backup by id, by folder path, or "latest" / "latest-verified". Throws OpsError('NOT_FOUND')
 * naming what exists.
 */
export async function findBackup(dir: string, ref: string): Promise<CatalogEntry> {
  if (isAbsolute(ref) || ref.includes('/')) {
    const path = resolve(ref);
    const id = basename(path);
    if (!BACKUP_ID_PATTERN.test(id)) throw new OpsError('NOT_FOUND', `${path} is not a backup folder (expected a name like 20261125T061906Z-aetherlens)`);
    return entryFor(resolve(path, '..'), id);
  }
  const catalog = await listCatalog(dir);
  const pick = ref === 'latest' ? catalog.filter((e) => e.status !== 'broken').at(-1)
    : ref === 'latest-verified' ? catalog.filter((e) => e.status === 'verified').at(-1)
      : catalog.find((e) => e.id === ref);
  if (pick) return pick;
  const known = catalog.length === 0 ? 'the directory holds no backups' : `newest: ${catalog.at(-1)!.id}; run aetherlens-db backups to list them`;
  throw new OpsError('NOT_FOUND', `no backup "${ref}" in ${dir}: ${known}`);
}
