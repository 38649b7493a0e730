import type { DumpFormat, TargetKind } from './types.js';

/** What a restore needs to say about a backup's recorded dump format, in an operator's words. */
export interface DumpFormatWords {
  /** Where such a dump comes from: 'the embedded database (plain SQL)', 'a PostgreSQL server (docker, pg_dump custom format)'. */
  origin(kind: TargetKind): string;
  /** How to get a place that restores it at the TimescaleDB version it was taken with. */
  versionFix(need: { timescaledb: string; serverMajor: number; aetherlensDb: string }): string;
}

/**
 * The wording per dump format, kept with the targets that write them (a manifest records its
 * format; operations interpret it through this table and never guess a kind from it).
 */
const DUMP_FORMATS: { [F in DumpFormat]: DumpFormatWords } = {
  // pg_dump's custom format: the server and docker kinds.
  custom: {
    origin: (kind) => `a PostgreSQL server (${kind}, pg_dump custom format)`,
    versionFix: (need) => `restore it on a server that has TimescaleDB ${need.timescaledb} (e.g. the timescale/timescaledb:${need.timescaledb}-pg${need.serverMajor} image or the timescaledb-2-postgresql-${need.serverMajor}=${need.timescaledb}* package)`,
  },
  // The embedded engine's plain SQL, gzip-compressed: its one TimescaleDB version ships with aetherlens-db.
  'sql-gzip': {
    origin: () => 'the embedded database (plain SQL)',
    versionFix: (need) => `restore it with the aetherlens-db version that took it (${need.aetherlensDb}), whose engine runs TimescaleDB ${need.timescaledb}`,
  },
};

/** The words for a manifest's recorded format; a format this version does not know reads as pg_dump's, as before. */
export function dumpFormatWords(format: string): DumpFormatWords {
  return DUMP_FORMATS[format as DumpFormat] ?? DUMP_FORMATS.custom;
}
