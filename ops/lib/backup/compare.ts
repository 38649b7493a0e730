import { FINGERPRINT_FORMAT, type ChunkPrint, type Fingerprint } from './fingerprint.js';

const keysOf = (...records: Record<string, unknown>[]) => [...new Set(records.flatMap((r) => Object.keys(r)))].sort();
const show = (value: unknown) => (value === null || value === undefined ? 'none' : String(value));
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Format 1 summed floats as floats: another order of the same rows (a compressed chunk, another
 * plan) moved the last digits, by at most rows x 2^-52 of the sum for values of one sign (all
 * of ours). Sums of a format 1 backup are equal within that; every other sum must match exactly.
 */
function withinFloatRounding(expected: string | null | undefined, actual: string | null | undefined, rows: number): boolean {
  const [a, b] = [Number(expected), Number(actual)];
  if (expected == null || actual == null || !Number.isFinite(a) || !Number.isFinite(b)) return false;
  return Math.abs(a - b) <= Math.max(rows, 1) * 2 ** -52 * Math.max(Math.abs(a), Math.abs(b));
}

function compareChunk(table: string, chunk: string, a: ChunkPrint, b: ChunkPrint, format: Fingerprint['format']): string[] {
  const at = `table ${table}: chunk ${chunk}`;
  if (a.rows !== b.rows) return [`${at} row count ${a.rows} → ${b.rows}`];
  const out: string[] = [];
  if (a.minTime !== b.minTime || a.maxTime !== b.maxTime) out.push(`${at} time range ${show(a.minTime)} .. ${show(a.maxTime)} → ${show(b.minTime)} .. ${show(b.maxTime)}`);
  for (const column of keysOf(a.sums, b.sums)) {
    if (!(column in b.sums)) out.push(`${at} column ${column} missing`);
    else if (!(column in a.sums)) out.push(`${at} column ${column} not in the backup`);
    else if (a.sums[column] !== b.sums[column] && !(format === 1 && withinFloatRounding(a.sums[column], b.sums[column], a.rows))) out.push(`${at} sum(${column}) ${show(a.sums[column])} → ${show(b.sums[column])}`);
  }
  return out;
}

/**
 * What differs between the fingerprint a backup recorded (`expected`) and one taken now
 * (`actual`), one readable line per difference, e.g.
 * "table metrics: chunk _hyper_1_3_chunk row count 2016 → 2015". Empty when they match.
 * Values read "expected → actual"; "missing" means present in the backup but not now.
 */
export function compareFingerprints(expected: Fingerprint, actual: Fingerprint): string[] {
  const out: string[] = [];
  // A format 1 backup is compared with a format 2 fingerprint: only float sums were computed otherwise.
  const comparable = expected.format === actual.format || (expected.format === 1 && actual.format === FINGERPRINT_FORMAT);
  if (!comparable) return [`fingerprint format ${expected.format} → ${actual.format}: this aetherlens-db reads formats 1 to ${FINGERPRINT_FORMAT}; verify the backup with the version that took it`];

  for (const name of keysOf(expected.extensions, actual.extensions)) {
    const [a, b] = [expected.extensions[name], actual.extensions[name]];
    if (b === undefined) out.push(`extension ${name}: missing`);
    else if (a === undefined) out.push(`extension ${name}: not in the backup`);
    else if (a !== b) out.push(`extension ${name}: version ${a} → ${b}`);
  }

  for (const name of keysOf(expected.tables, actual.tables)) {
    const [a, b] = [expected.tables[name], actual.tables[name]];
    if (!b) out.push(`table ${name}: missing`);
    else if (!a) out.push(`table ${name}: not in the backup (${plural(b.rows, 'row')})`);
    else if (a.rows !== b.rows) out.push(`table ${name}: row count ${a.rows} → ${b.rows}`);
    else if (a.hash !== b.hash) out.push(`table ${name}: contents differ (${plural(a.rows, 'row')} in both)`);
  }

  for (const name of keysOf(expected.hypertables, actual.hypertables)) {
    const [a, b] = [expected.hypertables[name], actual.hypertables[name]];
    if (!b) { out.push(`table ${name}: missing`); continue; }
    if (!a) { out.push(`table ${name}: not in the backup`); continue; }
    for (const chunk of keysOf(a.chunks, b.chunks)) {
      const [ca, cb] = [a.chunks[chunk], b.chunks[chunk]];
      if (!cb) out.push(`table ${name}: chunk ${chunk} missing (${plural(ca!.rows, 'row')} in the backup)`);
      else if (!ca) out.push(`table ${name}: chunk ${chunk} not in the backup (${plural(cb.rows, 'row')})`);
      else out.push(...compareChunk(name, chunk, ca, cb, expected.format));
    }
  }

  for (const name of keysOf(expected.continuousAggregates, actual.continuousAggregates)) {
    const [a, b] = [expected.continuousAggregates[name], actual.continuousAggregates[name]];
    if (!b) out.push(`continuous aggregate ${name}: missing`);
    else if (!a) out.push(`continuous aggregate ${name}: not in the backup`);
    else {
      if (a.materializedRows !== b.materializedRows) out.push(`continuous aggregate ${name}: materialized rows ${a.materializedRows} → ${b.materializedRows}`);
      if (a.materializedOnly !== b.materializedOnly) out.push(`continuous aggregate ${name}: materialized_only ${a.materializedOnly} → ${b.materializedOnly}`);
    }
  }

  for (const id of keysOf(expected.jobs, actual.jobs).sort((x, y) => Number(x) - Number(y))) {
    const [a, b] = [expected.jobs[id], actual.jobs[id]];
    const what = (j: { proc: string; relation: string | null }) => `job ${id} (${j.proc}${j.relation ? ` on ${j.relation}` : ''})`;
    if (!b) out.push(`${what(a!)}: missing`);
    else if (!a) out.push(`${what(b)}: not in the backup`);
    else {
      if (a.proc !== b.proc || a.relation !== b.relation) out.push(`${what(a)}: is now ${b.proc}${b.relation ? ` on ${b.relation}` : ''}`);
      if (a.schedule !== b.schedule) out.push(`${what(a)}: schedule ${a.schedule} → ${b.schedule}`);
      if (a.scheduled !== b.scheduled) out.push(`${what(a)}: ${b.scheduled ? 'scheduled now' : 'no longer scheduled'}`);
      if (a.config !== b.config) out.push(`${what(a)}: config ${show(a.config)} → ${show(b.config)}`);
    }
  }
  return out;
}
