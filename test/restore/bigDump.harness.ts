/**
 * Restores a dump into a scratch copy beside DATA_DIR the way a drill does (the embedded site's
 * restoreCopy), reads what the copy holds, removes it, and prints one JSON line with the answers,
 * the time and this process's peak memory: `node --import tsx bigDump.harness.ts DATA_DIR DUMP
 * MANIFEST SQL`, where SQL is a query whose first row is reported.
 */
import { readFile } from 'node:fs/promises';
import type { Manifest } from '../../ops/lib/backup/manifest.js';
import { silentLogger } from '../../ops/lib/logger.js';
import { embeddedSite } from '../../ops/lib/targets/embedded/restoreSite.js';

const [dataDir, dumpPath, manifestPath, sql] = process.argv.slice(2) as [string, string, string, string];

/** Peak resident memory of this process (all threads, the engine's included), in bytes. */
async function peakRss(): Promise<{ maxRss: number; vmHwm: number }> {
  const status = await readFile('/proc/self/status', 'utf8');
  const hwm = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0) * 1024;
  return { maxRss: process.resourceUsage().maxRSS * 1024, vmHwm: hwm };
}

const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Manifest;
const site = await embeddedSite({ dataDir, purpose: 'drill', command: 'verify' });
const names = site.scratchName(site.defaultLive, 'drill', new Date());
const started = performance.now();
let out: Record<string, unknown>;
try {
  const copy = await site.restoreCopy({ manifest, dumpPath, purpose: 'drill', scratch: names.scratch, mode: 'two-phase', check: () => {}, logger: silentLogger });
  const seconds = (performance.now() - started) / 1000;
  const session = await copy.open();
  const row = (await session.client.query(sql)).rows[0];
  await session.close();
  await copy.discard();
  out = { ok: true, seconds, restoreSeconds: copy.restoreSeconds, row, ...(await peakRss()) };
} catch (error) {
  out = { ok: false, seconds: (performance.now() - started) / 1000, error: (error as Error).message, ...(await peakRss()) };
}
await site.close();
process.stdout.write(`${JSON.stringify(out)}\n`);
