/** Human-readable sizes and durations for operator output (ages: scheduler/health.ts formatAge). */

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatSeconds(seconds: number): string {
  return seconds < 10 ? `${seconds.toFixed(1)} s` : `${Math.round(seconds)} s`;
}

/** One line of a drill's or restore's check list, as `verify` and `restore` print it. */
export function formatCheck(check: { ok: boolean; name: string; detail: string }): string {
  return `  ${check.ok ? 'ok  ' : 'FAIL'}  ${check.name.padEnd(21)} ${check.detail}`;
}
