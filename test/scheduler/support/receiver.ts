import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  path: string;
  body: string;
  at: number;
}

/** How the receiver answers a path: a status code, or 'hang' (never answers). */
export type Behaviour = number | 'hang';

/**
 * A real HTTP server on 127.0.0.1 (never any other address) that records every request:
 * stands in for healthchecks.io and a chat webhook.
 */
export async function startReceiver() {
  const requests: Received[] = [];
  const behaviour = new Map<string, Behaviour>();
  const hanging = new Set<ServerResponse>();
  const waiters: Array<{ test: (r: Received[]) => boolean; resolve: () => void }> = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const path = req.url ?? '/';
      requests.push({ method: req.method ?? '?', path, body, at: Date.now() });
      for (const w of [...waiters]) if (w.test(requests)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      const b = behaviour.get(path) ?? 200;
      if (b === 'hang') {
        hanging.add(res);
        return;
      }
      res.writeHead(b, { 'content-type': 'text/plain' }).end(b < 300 ? 'OK' : 'nope');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    /** Paths requested so far, in order. */
    paths: () => requests.map((r) => `${r.method} ${r.path}`),
    set: (path: string, b: Behaviour) => behaviour.set(path, b),
    /** Resolves once `test` holds for the requests received (or rejects after `ms`). */
    waitFor(test: (r: Received[]) => boolean, ms = 20_000): Promise<void> {
      if (test(requests)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`receiver: condition not met within ${ms} ms; got ${requests.map((r) => `${r.method} ${r.path}`).join(', ')}`)), ms);
        waiters.push({ test, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
