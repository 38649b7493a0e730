/** Timing and number formatting for the benchmark table. */
import { loadavg } from 'node:os';

/** Nearest-rank percentile of already sorted numbers. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface Latency {
  p50: number;
  p95: number;
  max: number;
  runs: number;
}

/** Runs `fn` `warmup` times untimed, then `runs` times timed one after another; milliseconds. */
export async function measure(fn: (i: number) => Promise<unknown>, runs: number, warmup: number): Promise<Latency> {
  for (let i = 0; i < warmup; i++) await fn(i);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await fn(i);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95), max: times[times.length - 1]!, runs };
}

/** 0.734 -> "0.73 ms", 12.3 -> "12.3 ms", 2140 -> "2,140 ms". */
export function ms(value: number): string {
  if (value < 10) return `${value.toFixed(2)} ms`;
  if (value < 100) return `${value.toFixed(1)} ms`;
  return `${Math.round(value).toLocaleString('en-US')} ms`;
}

export const pq = (l: Latency) => `${ms(l.p50)} / ${ms(l.p95)}`;

export function seconds(value: number): string {
  return `${value < 10 ? value.toFixed(2) : value.toFixed(1)} s`;
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function perSecond(rows: number, secs: number): string {
  return `${Math.round(rows / secs).toLocaleString('en-US')} rows/s`;
}

/** A ratio with two significant digits: 0.823 -> "0.82×", 38.2 -> "38×". */
export function times(ratio: number): string {
  if (!Number.isFinite(ratio)) return '—';
  return ratio >= 10 ? `${Math.round(ratio)}×` : `${ratio.toFixed(2)}×`;
}

/** The 1, 5 and 15 minute load averages: the bench shares its cores with whatever else runs. */
export function loadAverage(): string {
  return loadavg().map((n) => n.toFixed(2)).join(' ');
}
