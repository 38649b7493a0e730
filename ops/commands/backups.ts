import { Command } from 'commander';
import { formatAge, formatBytes, listCatalog, type CatalogEntry } from '../lib/index.js';
import { output, settingsFrom, withTargetOptions, type GlobalOptions } from './context.js';

interface Listed {
  id: string;
  path: string;
  createdAt: string;
  ageSeconds: number;
  status: CatalogEntry['status'];
  bytes: number | null;
  sha256: string | null;
  target: string | null;
  versions: { server: string; pgDump: string; timescaledb: string | null } | null;
  migrationHead: number | null;
  verification: { verifiedAt: string; result: string; seconds: number } | null;
  problem?: string;
}

function describe(entry: CatalogEntry, now: number): Listed {
  const m = entry.manifest;
  const v = m?.verification;
  return {
    id: entry.id,
    path: entry.path,
    createdAt: entry.createdAt,
    ageSeconds: Math.round((now - Date.parse(entry.createdAt)) / 1000),
    status: entry.status,
    bytes: m?.dump.bytes ?? null,
    sha256: m?.dump.sha256 ?? null,
    target: m?.target.label ?? null,
    versions: m ? { server: m.versions.server, pgDump: m.versions.pgDump, timescaledb: m.versions.timescaledb } : null,
    migrationHead: m?.migrationHead ?? null,
    verification: v ? { verifiedAt: v.verifiedAt, result: v.result, seconds: v.seconds } : null,
    ...(entry.problem ? { problem: entry.problem } : {}),
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

function formatList(dir: string, list: Listed[]): string {
  if (list.length === 0) return `no backups in ${dir} yet: run aetherlens-db backup`;
  const when = (iso: string) => iso.replace('T', ' ').slice(0, 19);
  const verified = (l: Listed) =>
    l.status === 'broken' ? `BROKEN: ${l.problem}` : l.verification ? `${l.verification.result} ${when(l.verification.verifiedAt)}` : 'no';
  const rows = [
    ['ID', 'TAKEN (UTC)', 'AGE', 'SIZE', 'POSTGRES', 'PG_DUMP', 'TIMESCALEDB', 'MIGRATION', 'VERIFIED'],
    ...[...list].reverse().map((l) => [
      l.id, when(l.createdAt), formatAge(l.ageSeconds), l.bytes === null ? '-' : formatBytes(l.bytes),
      l.versions?.server ?? '-', l.versions?.pgDump ?? '-', l.versions?.timescaledb ?? '-', l.migrationHead === null ? '-' : String(l.migrationHead), verified(l),
    ]),
  ];
  const good = list.filter((l) => l.status === 'verified');
  const summary = `${list.length} backup${list.length === 1 ? '' : 's'} in ${dir}, ${good.length} verified${good.length ? ` (newest verified: ${good.at(-1)!.id}, ${formatAge(good.at(-1)!.ageSeconds)} old)` : ': run aetherlens-db verify to prove one restores'}`;
  return `${table(rows)}\n${summary}`;
}

// The target flags too, as on every command: the catalog is the same whichever target wrote it.
export const backupsCommand = withTargetOptions(new Command('backups'))
  .description('list the backups in the backup directory, newest first: time, size, versions, verified or not, age')
  .option('--dir <dir>', 'backup directory (or AETHERLENS_BACKUP_DIR; default .aetherlens/backups)')
  .option('--json', 'print the catalog as JSON (oldest first)')
  .action(async (options: GlobalOptions) => {
    const dir = settingsFrom(options).backupDir;
    const now = Date.now();
    const list = (await listCatalog(dir)).map((e) => describe(e, now));
    output(options, list, (l) => formatList(dir, l));
  });
