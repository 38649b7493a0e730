/**
 * Server memory from /proc: the postmaster (first line of postmaster.pid) and its children
 * (backends, background workers, checkpointer, ...). Two sums per sample:
 * - RSS: what `ps` shows per process, summed. Pages of shared_buffers a process touched count in
 *   every process that touched them, so this overstates the real total; it is the figure the
 *   issue asks for and the pessimistic one.
 * - PSS (proportional set size): each shared page split between the processes that map it, so the
 *   sum counts shared_buffers once: close to what a container's memory cgroup charges (minus the
 *   reclaimable page cache of the data files).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface MemorySample {
  rssBytes: number;
  pssBytes: number;
  processes: number;
}

export interface MemoryPeak {
  /** Highest RSS sum seen, and the PSS sum of that same sample. */
  peakRss: MemorySample;
  /** Highest PSS sum seen. */
  peakPss: MemorySample;
  samples: number;
}

/** A field of smaps_rollup text, in bytes (the kernel walks every mapping to produce it: read once per sample). */
function kb(text: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match ? Number(match[1]) * 1024 : 0;
}

async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.split(/\s+/).filter(Boolean).map(Number);
}

/** The postmaster's pid, from its data directory. */
export async function postmasterPid(dataDir: string): Promise<number> {
  const first = (await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]!;
  return Number(first.trim());
}

/** One sample over the postmaster and its children; processes that exit mid-read are skipped. */
export async function sampleServer(postmaster: number): Promise<MemorySample> {
  const pids = [postmaster, ...(await childrenOf(postmaster))];
  let rssBytes = 0;
  let pssBytes = 0;
  let processes = 0;
  for (const pid of pids) {
    try {
      const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
      rssBytes += kb(rollup, 'Rss');
      pssBytes += kb(rollup, 'Pss');
      processes++;
    } catch {
      // a backend that ended between listing and reading
    }
  }
  return { rssBytes, pssBytes, processes };
}

/** Samples every `everyMs` until stop() is called; stop() resolves to the peaks. */
export function startSampling(postmaster: number, everyMs = 100): { stop(): Promise<MemoryPeak> } {
  let peakRss: MemorySample = { rssBytes: 0, pssBytes: 0, processes: 0 };
  let peakPss: MemorySample = peakRss;
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const s = await sampleServer(postmaster);
      samples++;
      if (s.rssBytes > peakRss.rssBytes) peakRss = s;
      if (s.pssBytes > peakPss.pssBytes) peakPss = s;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { peakRss, peakPss, samples };
    },
  };
}
