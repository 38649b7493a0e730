import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OpsError } from '../errors.js';
import type { DumpFormat, TargetKind } from '../targets/types.js';
import { writeFileAtomic } from '../atomicFile.js';
import type { Fingerprint } from './fingerprint.js';
import type { NoticeKind } from './notices.js';

/** Bump when a field changes meaning; readers refuse formats newer than theirs. */
export const MANIFEST_FORMAT = 1;
export const MANIFEST_FILE = 'manifest.json';

/** A restore drill's verdict (issue 5 fills it in; a backup counts as good only once it passed). */
export interface Verification {
  verifiedAt: string;
  result: 'passed' | 'failed';
  /** How long the drill took, restore included (the RTO it measured). */
  seconds: number;
  /** compareFingerprints() lines and any other check that failed; empty when it passed. */
  differences: string[];
  /** Drills may record more (restore seconds, data age, checks run). */
  [key: string]: unknown;
}

/** Everything known about one backup; stored as manifest.json beside the dump. No secrets. */
export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  id: string;
  /** When the snapshot was taken (ISO 8601, UTC): the moment the backup restores to. */
  createdAt: string;
  target: { kind: TargetKind; label: string; database: string };
  versions: {
    server: string;
    pgDump: string;
    /** Where that pg_dump ran: host path, container, or in-process. */
    pgDumpAt: string;
    timescaledb: string | null;
    /** TimescaleDB edition (timescaledb.license): "timescale" (community) or "apache". */
    edition: string | null;
    aetherlensDb: string;
  };
  /** Highest successfully applied migration in migration_history, if any. */
  migrationHead: number | null;
  dump: { file: string; format: DumpFormat; compression: string; bytes: number; sha256: string };
  /** Wall-clock seconds for the whole backup, and its parts (dump and fingerprint may overlap). */
  durationSeconds: number;
  timings: { dump: number; fingerprint: number; checksum: number };
  /** Benign pg_dump notices that were allowed, counted by kind. */
  notices: Partial<Record<NoticeKind, number>>;
  fingerprint: Fingerprint;
  verification: Verification | null;
}

export function manifestPath(backupPath: string): string {
  return join(backupPath, MANIFEST_FILE);
}

/** `details.problem` says in a few words what is wrong, for the catalog and rotation. */
function invalid(path: string, why: string): OpsError {
  return new OpsError('BACKUP', `manifest ${path} is not usable (${why}): this backup cannot be trusted; take a new one`, { details: { problem: `its manifest is not usable (${why})` } });
}

/** Reads and checks a backup's manifest; throws OpsError('BACKUP') naming what is wrong. */
export async function readManifest(backupPath: string): Promise<Manifest> {
  const path = manifestPath(backupPath);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw code === 'ENOENT'
      ? new OpsError('NOT_FOUND', `no manifest at ${path}: not a backup made by aetherlens-db`, { details: { problem: 'it has no manifest.json, so aetherlens-db did not publish it' } })
      : invalid(path, code === 'EACCES' || code === 'EPERM' ? `${code}: this user may not read it` : (error as Error).message);
  }
  let data: Partial<Manifest>;
  try {
    data = JSON.parse(text) as Partial<Manifest>;
  } catch {
    throw invalid(path, 'not valid JSON');
  }
  if (typeof data.format !== 'number') throw invalid(path, 'no format version');
  if (data.format > MANIFEST_FORMAT) {
    throw new OpsError('BACKUP', `manifest ${path} has format ${data.format}, newer than this aetherlens-db understands (${MANIFEST_FORMAT}): upgrade aetherlens-db to read it`, {
      details: { problem: `its manifest has format ${data.format}, newer than this aetherlens-db reads (${MANIFEST_FORMAT})` },
    });
  }
  for (const field of ['id', 'createdAt', 'dump', 'fingerprint', 'versions', 'target'] as const) {
    if (data[field] === undefined) throw invalid(path, `no "${field}"`);
  }
  if (typeof data.dump?.sha256 !== 'string' || typeof data.dump.file !== 'string' || data.dump.file.includes('/')) throw invalid(path, 'bad "dump"');
  return { ...data, verification: data.verification ?? null } as Manifest;
}

/** Writes a manifest atomically (temporary name, fsync, rename): readers see the old or the new. */
export async function writeManifest(backupPath: string, manifest: Manifest): Promise<void> {
  await writeFileAtomic(manifestPath(backupPath), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Records a drill's verdict in the backup's manifest (atomic rewrite) and returns the result. */
export async function recordVerification(backupPath: string, verification: Verification): Promise<Manifest> {
  const manifest = await readManifest(backupPath);
  const updated: Manifest = { ...manifest, verification };
  await writeManifest(backupPath, updated);
  return updated;
}
