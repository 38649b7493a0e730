import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OpsError } from '../errors.js';
import { MANIFEST_FILE } from './manifest.js';

/*
 * Whoever can write into the backup directory can replace a dump and its manifest together, and
 * a superuser pg_restore then runs their SQL. So, as ssh does with a loose authorized_keys, the
 * directory, a backup folder and its files are refused when anyone but their owner may write them,
 * or when that owner is someone else than the user running aetherlens-db. Root-owned paths are
 * trusted by every user (root can replace anything anyway); a process running as root trusts only
 * root-owned ones, since a user's folder lets that user feed SQL to a root-run restore.
 */

/** The uids whose files this process may trust: itself, and root. */
function trustedOwners(): ReadonlySet<number> {
  const me = process.geteuid?.() ?? 0;
  return new Set([me, 0]);
}

/** A user's name from /etc/passwd, for the message; the uid alone when unknown. */
function userName(uid: number): string {
  try {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.split(':')[2] === String(uid));
    const name = line?.split(':')[0];
    return name ? `${name} (uid ${uid})` : `uid ${uid}`;
  } catch {
    return `uid ${uid}`;
  }
}

const quote = (path: string) => `'${path.replace(/'/g, `'\\''`)}'`;

/** Refuses `path` unless only a trusted owner can write it. Missing paths pass (others report them). */
async function assertTrusted(path: string, what: string): Promise<void> {
  const s = await stat(path).catch(() => undefined);
  if (!s) return;
  const me = process.geteuid?.() ?? 0;
  if (!trustedOwners().has(s.uid)) {
    throw new OpsError('CONFIG', `refused: the ${what} ${path} is owned by ${userName(s.uid)}, not by ${userName(me)} who runs aetherlens-db, so its owner could replace a dump and its manifest; run (as root): chown -R ${userName(me).split(' ')[0]} ${quote(path)} (or use a backup directory of your own); nothing was changed`);
  }
  const loose = s.mode & 0o022;
  if (loose !== 0) {
    const who = loose === 0o022 ? 'its group and all users' : loose === 0o020 ? 'its group' : 'all users';
    throw new OpsError('CONFIG', `refused: the ${what} ${path} is writable by ${who} (mode ${(s.mode & 0o7777).toString(8)}), so they could replace a dump and its manifest; run: chmod go-w ${quote(path)}; nothing was changed`);
  }
}

/** The backup directory: owned by this user (or root) and writable by nobody else. */
export async function assertTrustedBackupDir(dir: string): Promise<void> {
  await assertTrusted(dir, 'backup directory');
}

/**
 * Everything a restore or drill reads of one backup: the directory, the backup's folder, its
 * manifest and its dump. Called before any of them is read.
 */
export async function assertTrustedBackup(dir: string, folder: string, dumpFile?: string): Promise<void> {
  await assertTrusted(dir, 'backup directory');
  await assertTrusted(folder, 'backup folder');
  await assertTrusted(join(folder, MANIFEST_FILE), 'manifest');
  if (dumpFile) await assertTrusted(join(folder, dumpFile), 'dump');
}
