/**
 * `npm run bench` (scripts/bench.sh runs this with tsx): the figures of issue 8 against the
 * specification's targets and the issue's goals, each beside a baseline measured in the same run.
 * Not part of `npm test`: nothing here asserts a timer. BENCH_SCALE=small for a quick check,
 * BENCH_EMBEDDED_DAYS=90 for the full dataset on the embedded engine too, BENCH_ONLY=native or
 * embedded for one phase, BENCH_SKIP=backup,restore to leave out those benches, BENCH_JSON=FILE
 * to keep the rows. Progress goes to stderr, the table to
 * stdout. Exit 1 when a phase failed (its row says why), 2 when the native server is missing.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isOpsError, type Logger } from '../../ops/lib/index.js';
import { nativeUnavailableReason } from '../support/nativeCluster.js';
import { onInterrupt } from './cleanup.js';
import type { BenchContext, BenchRow, ExternalRow } from './context.js';
import { benchEmbedded } from './embedded.bench.js';
import { benchNative } from './native.bench.js';
import { benchScale } from './scale.js';
import { loadAverage } from './stats.js';
import { renderTable, verdictSummary } from './table.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Benches other modules own: file, exported function. */
const EXTERNAL = [
  ['backup.bench.ts', 'benchBackup'],
  ['restore.bench.ts', 'benchRestore'],
] as const;

const started = performance.now();
const stamp = () => {
  const s = Math.round((performance.now() - started) / 1000);
  return `[${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}]`;
};
let lastProgress = 0;
/** Lines with the elapsed time; the seeder's per-batch progress at most every 5 s. */
const logger: Logger = {
  info: (m) => process.stderr.write(`${stamp()} ${m}\n`),
  warn: (m) => process.stderr.write(`${stamp()} warning: ${m}\n`),
  error: (m) => process.stderr.write(`${stamp()} error: ${m}\n`),
  progress: (m) => {
    if (performance.now() - lastProgress < 5000) return;
    lastProgress = performance.now();
    process.stderr.write(`${stamp()} ${m}\n`);
  },
};

function failedRow(phase: string, error: unknown): BenchRow {
  const message = error instanceof Error ? error.message : String(error);
  return { figure: `${phase}: did not finish`, ours: 'failed', baseline: '—', ratio: '—', verdict: 'missed', note: message.split('\n')[0]! };
}

const text = (v: number | string | null | undefined) => (v === null || v === undefined ? '—' : String(v));

/** Their rows carry numbers; a "(goal ≤ 0.6×)" in the figure is judged against the ratio. */
function fromExternal(row: ExternalRow): BenchRow {
  const goal = /goal ≤ ([\d.]+)×/.exec(row.figure);
  const ratio = typeof row.ratio === 'number' ? row.ratio : undefined;
  return {
    figure: row.figure,
    ours: text(row.ours),
    baseline: text(row.baseline),
    ratio: ratio === undefined ? text(row.ratio) : `${ratio}×`,
    verdict: goal && ratio !== undefined ? (ratio <= Number(goal[1]) ? 'met' : 'missed') : 'info',
  };
}

async function externalBenches(base: Omit<BenchContext, 'tmpDir' | 'log'>, tmpRoot: string, facts: string[]): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const skip = new Set((process.env.BENCH_SKIP ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  for (const [file, fn] of EXTERNAL) {
    const path = join(HERE, file);
    if (skip.has(file.replace('.bench.ts', ''))) {
      facts.push(`test/bench/${file} skipped (BENCH_SKIP)`);
      continue;
    }
    if (!existsSync(path)) {
      facts.push(`test/bench/${file} is not there yet: no ${fn} figures`);
      continue;
    }
    const dir = await mkdtemp(join(tmpRoot, `${fn}-`));
    try {
      logger.info(`${fn}: started`);
      const benchStarted = performance.now();
      const mod = (await import(pathToFileURL(path).href)) as Record<string, (ctx: BenchContext) => Promise<ExternalRow[]>>;
      if (typeof mod[fn] !== 'function') throw new Error(`test/bench/${file} does not export ${fn}(ctx)`);
      const got = await mod[fn]!({ ...base, tmpDir: dir, log: (line) => logger.info(`${fn}: ${line}`) });
      rows.push(...got.map(fromExternal));
      facts.push(`${fn} (test/bench/${file}) took ${((performance.now() - benchStarted) / 60_000).toFixed(1)} min`);
    } catch (error) {
      rows.push(failedRow(fn, error));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

async function main(): Promise<number> {
  const scale = benchScale();
  const only = process.env.BENCH_ONLY;
  if (only !== undefined && only !== 'native' && only !== 'embedded') {
    process.stderr.write(`bench: BENCH_ONLY must be native or embedded (got "${only}")\n`);
    return 2;
  }
  const unavailable = nativeUnavailableReason();
  if (unavailable) {
    process.stderr.write(`bench: ${unavailable}\n`);
    return 2;
  }
  const tmpRoot = await mkdtemp(join(tmpdir(), 'aetherlens-bench-'));
  const forget = onInterrupt(() => rm(tmpRoot, { recursive: true, force: true }));
  const loadBefore = loadAverage();
  const facts: string[] = [];
  const rows: BenchRow[] = [];
  // What each server says it is, for the header; a phase fills its entry once it has read it.
  const servers: Record<'native' | 'embedded', string> = { native: 'not read (the phase stopped before)', embedded: 'not read (the phase stopped before)' };
  let failed = false;
  try {
    logger.info(`bench: scale ${scale.name}, scratch in ${tmpRoot}`);
    const phases: ['native' | 'embedded', () => Promise<BenchRow[]>][] = [
      ['native', () => benchNative(scale, tmpRoot, logger, (base) => externalBenches(base, tmpRoot, facts), (d) => (servers.native = d))],
      ['embedded', () => benchEmbedded(scale, tmpRoot, logger, (d) => (servers.embedded = d))],
    ];
    for (const [name, phase] of phases) {
      if (only && only !== name) {
        servers[name] = `not run (BENCH_ONLY=${only})`;
        continue;
      }
      try {
        rows.push(...(await phase()));
      } catch (error) {
        failed = true;
        rows.push(failedRow(`${name} phase`, error));
        if (!isOpsError(error)) logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
      }
    }
  } finally {
    await rm(tmpRoot, { recursive: true, force: true });
    forget();
  }
  const minutes = (performance.now() - started) / 60_000;
  const cpu = cpus();
  const header = [
    `AetherLens DB benchmarks, ${new Date().toISOString()}, scale ${scale.name}, ${minutes.toFixed(1)} min`,
    `machine: ${cpu.length} × ${cpu[0]?.model.trim() ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GB; load average ${loadBefore} at start, ${loadAverage()} at end (other work on the machine slows every figure)`,
    `native: ${servers.native}; embedded: ${servers.embedded}; node ${process.version}`,
  ];
  process.stdout.write(`${header.join('\n')}\n\n${renderTable(rows)}\n\n${verdictSummary(rows)}\n${facts.map((f) => `${f}\n`).join('')}`);
  if (process.env.BENCH_JSON) await writeFile(process.env.BENCH_JSON, `${JSON.stringify({ date: new Date().toISOString(), scale: scale.name, header, rows }, null, 2)}\n`);
  return failed ? 1 : 0;
}

process.exitCode = await main();
