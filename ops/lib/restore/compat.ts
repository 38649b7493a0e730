import { OpsError } from '../errors.js';
import type { Manifest } from '../backup/manifest.js';
import type { SiteFacts } from '../targets/restoreSite.js';
import { dumpFormatWords } from '../targets/dumpFormats.js';

const major = (version: string) => Number(/^(\d+)/.exec(version)?.[1] ?? NaN);

/** Whether the backup uses what only TimescaleDB's community edition has. */
function usesCommunityFeatures(manifest: Manifest): boolean {
  const fp = manifest.fingerprint;
  return Object.keys(fp.continuousAggregates).length > 0 || Object.values(fp.jobs).some((j) => j.proc !== 'policy_job_stat_history_retention');
}

/**
 * Refuses, before anything is created, a backup the site cannot restore faithfully: another dump
 * format, an older PostgreSQL or pg_restore than the dump's, a TimescaleDB version other than the
 * dump's (restoring the catalog of one version into another corrupts it), or the Apache edition
 * for a dump that needs the community one. Each message names what to run instead.
 */
export function assertRestorable(manifest: Manifest, facts: SiteFacts): void {
  const v = manifest.versions;
  const nothing = 'nothing was changed';
  if (manifest.dump.format !== facts.dumpFormat) {
    const from = dumpFormatWords(manifest.dump.format).origin(manifest.target.kind);
    throw new OpsError('RESTORE', `backup ${manifest.id} was taken from ${from} and cannot be restored to ${facts.where}: restore it on the kind of target that took it (${manifest.target.kind}); ${nothing}`);
  }
  if (major(v.server) > facts.serverMajor) {
    throw new OpsError('RESTORE', `backup ${manifest.id} comes from PostgreSQL ${v.server}, but ${facts.where} runs PostgreSQL ${facts.serverVersion}: restore it on PostgreSQL ${major(v.server)} or newer; ${nothing}`);
  }
  if (facts.restoreMajor !== undefined && facts.restoreMajor < major(v.pgDump)) {
    throw new OpsError('TOOL', `backup ${manifest.id} was written by pg_dump ${v.pgDump}, which pg_restore ${facts.restoreMajor} cannot read: install PostgreSQL ${major(v.pgDump)}'s client tools and set PG_BIN_DIR to their bin directory; ${nothing}`);
  }
  const wanted = v.timescaledb;
  if (wanted !== null && !facts.timescaleVersions.includes(wanted)) {
    const offered = facts.timescaleVersions.length === 0 ? 'no TimescaleDB at all' : `TimescaleDB ${facts.timescaleVersions.join(', ')}`;
    const how = dumpFormatWords(manifest.dump.format).versionFix({ timescaledb: wanted, serverMajor: major(v.server), aetherlensDb: v.aetherlensDb });
    throw new OpsError('EXTENSION', `backup ${manifest.id} was taken with TimescaleDB ${wanted}, but ${facts.where} offers ${offered}: ${how}, then upgrade there with ALTER EXTENSION timescaledb UPDATE as the first command of a new psql -X session; ${nothing}`);
  }
  if (v.edition === 'timescale' && facts.edition === 'apache' && usesCommunityFeatures(manifest)) {
    throw new OpsError('EDITION', `backup ${manifest.id} uses continuous aggregates or policies of TimescaleDB's community edition, but ${facts.where} runs the Apache-2 edition: restore it on a server with the community edition (the timescale/timescaledb images); ${nothing}`);
  }
}
