/**
 * Figure 5: server memory under the query load. The sampler (memory.ts) runs through the latency
 * runs and then through a burst of `clients` connections, each asking the four questions in turn
 * (raw data, random devices) for `seconds`: the API with several dashboards open at once.
 */
import pg from 'pg';
import type { ConnectionInfo } from '../../ops/lib/index.js';
import { connect } from '../../ops/lib/pg.js';
import { QUERIES } from './queries.js';

/** Runs the mixed load; returns how many queries completed. */
export async function concurrentLoad(connection: ConnectionInfo, devices: readonly string[], clients: number, seconds: number): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  const conns: pg.Client[] = [];
  try {
    for (let i = 0; i < clients; i++) conns.push(await connect(connection));
    const counts = await Promise.all(
      conns.map(async (client, c) => {
        let n = 0;
        while (performance.now() < deadline) {
          const query = QUERIES[(c + n) % QUERIES.length]!;
          await client.query(query.raw, query.perDevice ? [devices[(c * 13 + n * 7) % devices.length]] : []);
          n++;
        }
        return n;
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  } finally {
    await Promise.all(conns.map((c) => c.end().catch(() => {})));
  }
}
