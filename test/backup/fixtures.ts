import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeManifest, type BackupStatus, type Manifest, type RotationInput } from '../../ops/lib/index.js';

/**
 * A synthetic catalog, one character per day from 2026-01-01 (a Thursday), each backup at 02:00
 * UTC: v verified, V two verified (02:00 and 14:00), f failed its drill, u never drilled, - none.
 */
export function catalog(pattern: string): RotationInput[] {
  const status: Record<string, BackupStatus> = { v: 'verified', V: 'verified', f: 'failed', u: 'unverified' };
  const out: RotationInput[] = [];
  [...pattern].forEach((c, i) => {
    if (c === '-') return;
    const day = new Date(Date.UTC(2026, 0, 1 + i));
    const at = (hour: number) => {
      const t = new Date(day.getTime() + hour * 3600_000);
      return { id: `${t.toISOString().replace(/[-:]/g, '').replace('.000', '')}-aetherlens`, createdAt: t.toISOString(), status: status[c]! };
    };
    out.push(at(2));
    if (c === 'V') out.push(at(14));
  });
  return out;
}

/**
 * 60 days with failures sprinkled in: failed drills on Jan 11, 21, 31, Feb 10, 25 and 27; no
 * backup on Jan 4, 16 and Feb 23; one never-drilled backup (Feb 20) older than verified ones;
 * two backups on Feb 24; the last two days still waiting for their drill.
 */
export const SIXTY_DAYS = 'vvv-vvvvvvfvvvv-vvvvfvvvvvvvvvfvvvvvvvvvfvvvvvvvvvuvv-Vfvfuu';

/** What the default policy (7 daily, 4 weekly, 12 monthly) keeps of SIXTY_DAYS. */
export const SIXTY_DAYS_KEPT_BY_DEFAULT = [
  '20260130T020000Z', // monthly 2026-01: Jan 31 failed, so the newest verified January backup is Jan 30
  '20260208T020000Z', // weekly 2026-W06
  '20260215T020000Z', // weekly 2026-W07
  '20260217T020000Z', '20260218T020000Z', '20260219T020000Z', '20260221T020000Z', // daily
  '20260222T020000Z', // daily, weekly 2026-W08
  '20260224T140000Z', // daily: the newer of the two Feb 24 backups
  '20260226T020000Z', // newest verified: daily, weekly 2026-W09, monthly 2026-02
  '20260228T020000Z', '20260301T020000Z', // waiting for their drill
];

/** A backup folder as backup() leaves it (a tiny stand-in dump), with the given drill verdict. */
export async function writeBackupFolder(dir: string, entry: RotationInput): Promise<string> {
  const path = join(dir, entry.id);
  await mkdir(path, { recursive: true, mode: 0o700 });
  await writeFile(join(path, 'aetherlens.dump'), 'DUMP!', { mode: 0o600 });
  const manifest: Manifest = {
    format: 1,
    id: entry.id,
    createdAt: entry.createdAt,
    target: { kind: 'server', label: 'postgres://postgres:***@127.0.0.1:5432/aetherlens', database: 'aetherlens' },
    versions: { server: '15.20', pgDump: '15.20', pgDumpAt: '/usr/bin/pg_dump', timescaledb: '2.22.1', edition: 'timescale', aetherlensDb: '0.1.0' },
    migrationHead: 6,
    dump: { file: 'aetherlens.dump', format: 'custom', compression: 'gzip level 1', bytes: 5, sha256: 'a'.repeat(64) },
    durationSeconds: 1,
    timings: { dump: 1, fingerprint: 0.1, checksum: 0.01 },
    notices: {},
    fingerprint: { format: 1, extensions: {}, tables: {}, hypertables: {}, continuousAggregates: {}, jobs: {}, newestData: null },
    verification: entry.status === 'unverified' ? null
      : { verifiedAt: new Date(Date.parse(entry.createdAt) + 3600_000).toISOString(), result: entry.status === 'verified' ? 'passed' : 'failed', seconds: 10, differences: [] },
  };
  await writeManifest(path, manifest);
  return path;
}
