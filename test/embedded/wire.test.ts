import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { MessageFramer, WireServer } from '../../ops/lib/embedded/wire.js';
import { openEmbeddedEngine, type EmbeddedEngine } from '../../ops/lib/embedded/engine.js';
import type { ConnectionInfo } from '../../ops/lib/connection.js';
import type { Socket } from 'node:net';
import { Reader, errorFields, openSocket, rawSession } from './rawClient.js';

describe('MessageFramer', () => {
  test('gives back whole messages however TCP splits them', () => {
    const startup = Buffer.alloc(8);
    startup.writeInt32BE(8, 0);
    startup.writeInt32BE(196608, 4);
    const query = (text: string) => {
      const body = Buffer.from(`${text}\0`);
      const header = Buffer.alloc(5);
      header.write('Q', 0);
      header.writeInt32BE(body.length + 4, 1);
      return Buffer.concat([header, body]);
    };
    const big = query(`SELECT '${'x'.repeat(200_000)}'`);
    const stream = Buffer.concat([startup, query('SELECT 1'), big, query('SELECT 2')]);
    for (const size of [1, 7, 1000, 65_536, stream.length]) {
      const framer = new MessageFramer();
      const out: string[] = [];
      for (let i = 0; i < stream.length; i += size) {
        for (const m of framer.push(stream.subarray(i, i + size))) out.push(`${m.kind}:${m.bytes.length}`);
      }
      expect(out).toEqual(['startup:8', `message:${query('SELECT 1').length}`, `message:${big.length}`, `message:${query('SELECT 2').length}`]);
    }
  });
});

describe('MessageFramer lengths', () => {
  const startup = Buffer.from([0, 0, 0, 8, 0, 3, 0, 0]);
  const header = (type: string, length: number) => {
    const b = Buffer.alloc(5);
    b.write(type, 0);
    b.writeUInt32BE(length, 1);
    return b;
  };
  test('are checked as soon as the header is in, so nothing waits for bytes that will not come', () => {
    const errors = (framer: MessageFramer, bytes: Buffer) => {
      try {
        framer.push(bytes);
        return 'accepted';
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(errors(new MessageFramer(), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0]))).toBe('invalid length of startup packet (4 bytes)');
    expect(errors(new MessageFramer(), Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 3, 0, 0]))).toBe('invalid length of startup packet (4294967295 bytes)');
    expect(errors(new MessageFramer(), Buffer.concat([startup, header('Q', 3)]))).toBe('invalid message length 3');
    expect(errors(new MessageFramer(), Buffer.concat([startup, header('Q', 0xffffffff)]))).toBe("message of 4294967295 bytes exceeds the embedded server's limit of 134217728 bytes");
    expect(errors(new MessageFramer(), Buffer.concat([startup, header('S', 20_000)]))).toBe("message of 20000 bytes exceeds the embedded server's limit of 10000 bytes");
    // Before login no message may be large: an unauthenticated client cannot make us hold 128 MB.
    const guest = new MessageFramer(undefined, { authenticated: false });
    expect(errors(guest, Buffer.concat([startup, header('Q', 50_000_000)]))).toBe("message of 50000000 bytes exceeds the embedded server's limit of 10000 bytes");
  });
});

describe('the wire server in front of the embedded engine', () => {
  let root: string;
  let engine: EmbeddedEngine;
  const client = async (info: Pick<ConnectionInfo, 'host' | 'port' | 'password'> = engine.info) => {
    const c = new pg.Client({ host: info.host, port: info.port, user: 'postgres', password: info.password, database: 'template1' });
    await c.connect();
    return c;
  };
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aetherlens-wire-'));
    engine = await openEmbeddedEngine({ dataDir: join(root, 'db') });
  });
  afterAll(async () => {
    await engine?.close();
    await rm(root, { recursive: true, force: true });
  });

  test('a 500 kB query arrives whole (pglite-socket crashed the engine past 64 kB)', async () => {
    const c = await client();
    const big = 'x'.repeat(500_000);
    expect((await c.query(`SELECT length('${big}') AS n`)).rows).toEqual([{ n: 500_000 }]);
    await c.end();
  });

  test('a client that leaves mid-transaction leaves nothing behind for the next one', async () => {
    const a = await client();
    await a.query('CREATE TABLE wire_probe (x int)');
    await a.query('BEGIN');
    await a.query('INSERT INTO wire_probe VALUES (1)');
    await a.query(`SET work_mem = '77MB'`);
    await a.end();
    const b = await client();
    expect((await b.query(`SELECT count(*)::int AS n, current_setting('work_mem') AS w, current_setting('search_path') AS p FROM wire_probe`)).rows).toEqual([{ n: 0, w: '4MB', p: 'public' }]);
    await b.end();
  });

  test('COPY FROM STDIN gets an error instead of crashing the engine', async () => {
    const c = await client();
    const error = await pipeline(Readable.from(['1\n2\n']), c.query(copyFrom('COPY wire_probe FROM STDIN'))).catch((e: Error) => e);
    expect((error as Error).message).toBe('COPY FROM STDIN is not supported by the embedded engine: use INSERT, or COPY on a PostgreSQL server');
    expect((await c.query('SELECT count(*)::int AS n FROM wire_probe')).rows).toEqual([{ n: 0 }]);
    await c.end();
  });

  test('a large result arrives whole and in order, and the in-process API still reads the same rows', async () => {
    const sql = `SELECT i, md5(i::text) AS h, now() - i * interval '1 minute' AS t, i / 7.0 AS f FROM generate_series(1, 60000) AS i ORDER BY i`;
    const c = await client();
    const [wire, again] = [await c.query({ text: sql, rowMode: 'array' }), await c.query({ text: `SELECT 'after' AS w` })];
    await c.end();
    expect(wire.rows).toHaveLength(60_000);
    expect(wire.rows.every((r: unknown[], i: number) => r[0] === i + 1)).toBe(true);
    expect(again.rows).toEqual([{ w: 'after' }]);
    const local = await engine.db.query<unknown[]>(sql, [], { rowMode: 'array' });
    expect(wire.rows.map((r: unknown[]) => `${String(r[1])} ${String(r[3])}`)).toEqual(local.rows.map((r) => `${String(r[1])} ${String(r[3])}`));
  });

  test('ReadyForQuery reports the session\'s transaction status, also after a refused COPY', async () => {
    const s = await rawSession(engine.info, engine.info.password!);
    try {
      expect(await s.query('BEGIN')).toEqual({ types: ['C', 'Z'], status: 'T' });
      expect(await s.query('COPY wire_probe FROM STDIN')).toEqual({ types: ['E', 'Z'], status: 'T' });
      expect(await s.query('SELECT 1/0')).toEqual({ types: ['E', 'Z'], status: 'E' });
      expect(await s.query('COPY wire_probe FROM STDIN')).toEqual({ types: ['E', 'Z'], status: 'E' });
      expect(await s.query('ROLLBACK')).toEqual({ types: ['C', 'Z'], status: 'I' });
      expect(await s.query('COPY wire_probe FROM STDIN')).toEqual({ types: ['E', 'Z'], status: 'I' });
      expect(await s.query('SELECT 1; SELECT 2')).toEqual({ types: ['T', 'D', 'C', 'T', 'D', 'C', 'Z'], status: 'I' });
    } finally {
      await s.end();
    }
  });

  test('a second client waits its turn, and past the limit is told the database is busy', async () => {
    const server = new WireServer(engine.db, { listen: { host: '127.0.0.1', port: 0 }, password: 'a test password', queueTimeoutMs: 800 });
    const tcp = { host: '127.0.0.1', port: await server.start(), password: 'a test password' };
    try {
      const first = await client(tcp);
      const started = Date.now();
      const refused = await client(tcp).then(() => 'connected', (e: Error) => e.message);
      expect(refused).toBe('the embedded database serves one connection at a time and it stayed busy for 0.8 s: try again later');
      expect(Date.now() - started).toBeGreaterThanOrEqual(700);
      const waiting = client(tcp);
      setTimeout(() => void first.end(), 200);
      const second = await waiting;
      expect((await second.query(`SELECT 'second' AS who`)).rows).toEqual([{ who: 'second' }]);
      await second.end();
    } finally {
      await server.stop();
    }
  });
});

describe('the wire server\'s limits: startup and idle timeouts, a bounded line', () => {
  let root: string;
  let engine: EmbeddedEngine;
  let server: WireServer;
  let tcp: { host: string; port: number; password: string };
  const password = 'a test password';
  const client = async () => {
    const c = new pg.Client({ ...tcp, user: 'postgres', database: 'template1' });
    c.on('error', () => {});
    await c.connect();
    return c;
  };
  /** What the server says before it closes a socket that sends `bytes`. */
  const lastWords = async (socket: Socket) => {
    const reader = new Reader(socket);
    for (let m = await reader.next(); m; m = await reader.next()) if (m.type === 'E') return errorFields(m.body).M;
    return 'closed without a word';
  };
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aetherlens-wire-limits-'));
    engine = await openEmbeddedEngine({ dataDir: join(root, 'db') });
    server = new WireServer(engine.db, { listen: { host: '127.0.0.1', port: 0 }, password, queueTimeoutMs: 5_000, startupTimeoutMs: 400, idleTimeoutMs: 400, maxWaiting: 1, maxPending: 3 });
    tcp = { host: '127.0.0.1', port: await server.start(), password };
  });
  afterAll(async () => {
    await server?.stop();
    await engine?.close();
    await rm(root, { recursive: true, force: true });
  });

  test('a client that sends three bytes is closed at the startup timeout, and holds nobody up meanwhile', async () => {
    const slow = await openSocket(tcp);
    slow.write(Buffer.from([0, 0, 0]));
    const words = lastWords(slow);
    const started = Date.now();
    const c = await client();
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await c.end();
    expect(await words).toBe('canceling authentication due to timeout: a client must log in within 0.4 s');
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
  });

  test('connections not yet served are bounded', async () => {
    const idle = await Promise.all([1, 2, 3].map(() => openSocket(tcp)));
    const fourth = await openSocket(tcp);
    expect(await lastWords(fourth)).toBe('too many connections are waiting for the embedded database: try again later');
    for (const s of idle) s.destroy();
    // The server counts them out when it sees them close.
    await new Promise((ok) => setTimeout(ok, 200));
  });

  test('a served client idle while another waits is closed at the idle timeout; the waiting one is served', async () => {
    const a = await client();
    const aClosed = new Promise<string>((ok) => a.once('error', (e: Error) => ok(e.message)));
    const started = Date.now();
    const b = await client();
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect((await b.query(`SELECT 'b' AS who`)).rows).toEqual([{ who: 'b' }]);
    expect(await aClosed).toBe('terminating connection: idle for 0.4 s while another client waited for the embedded database');
    await b.end();
  });

  test('the line of waiting clients is bounded', async () => {
    const a = await rawSession(tcp, password);
    const b = rawSession(tcp, password);
    // b waits (it has logged in); c finds the line full.
    await new Promise((ok) => setTimeout(ok, 100));
    const refused = await rawSession(tcp, password).then(() => 'served', (e: Error) => e.message);
    expect(refused).toBe('too many clients are waiting for the embedded database: try again later');
    await a.end();
    await (await b).end();
  });
});
