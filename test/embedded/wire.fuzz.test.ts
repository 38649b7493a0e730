import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { execa, type ResultPromise } from 'execa';
import pg from 'pg';
import { CLI } from '../support/cli.js';
import { freePort } from '../support/nativeCluster.js';
import { Reader, message, openSocket, scramLogin, startupMessage, type Endpoint } from './rawClient.js';

/**
 * Throws random and malformed input at a real `aetherlens-db local serve` for a bounded time:
 * startup packets of lengths 0-8 and 2^31-2^32, truncated and unknown messages before and after
 * login, and COPY FROM STDIN in every spelling in both protocols. After every case the server
 * process must still be up and a normal client must get SELECT 1. A fixed list first, then
 * random cases from a fixed seed until the time is up (DB_OPS_FUZZ_SECONDS, DB_OPS_FUZZ_SEED).
 */

const SECONDS = Number(process.env.DB_OPS_FUZZ_SECONDS ?? 15);
const SEED = Number(process.env.DB_OPS_FUZZ_SEED ?? 20261201);

/** mulberry32: small, seedable, good enough to pick bytes. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    bytes: (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256))),
    pick: <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!,
  };
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const i16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
/** A message whose length field says `length`, whatever the body. */
const framed = (type: string, length: number, body: Buffer = Buffer.alloc(0)) => Buffer.concat([Buffer.from(type, 'latin1'), u32(length), body]);

const COPY_SPELLINGS = [
  'copy fuzz_t from stdin',
  'COPY fuzz_t FROM STDIN',
  '/* x */ copy fuzz_t from stdin',
  'CoPy fuzz_t FrOm StDiN',
  ' \n\t copy fuzz_t from stdin',
  '-- a comment\ncopy fuzz_t from stdin',
  '/* nested /* comment */ */ copy fuzz_t from stdin;',
  'select 1; copy fuzz_t from stdin',
  'begin; copy fuzz_t from stdin; commit',
  'copy fuzz_t (x) from stdin with (format csv)',
  'copy "fuzz_t" from stdin',
  'copy public.fuzz_t from stdin (format binary)',
  'copy fuzz_t from stdin where x > 0',
  'COPY fuzz_t FROM STDIN WITH CSV HEADER',
  "copy fuzz_t from '/dev/blob'",
  "copy fuzz_t to '/dev/blob'",
  'copy fuzz_t from stdin;;;',
];

/** What one case does on its own connection; returns what the test should check, if anything. */
type Case = { name: string; run: (endpoint: Endpoint, password: string) => Promise<void> };

/** Waits until the server closes the socket or a short while passes. */
async function settle(socket: Socket, ms = 150): Promise<void> {
  if (socket.destroyed) return;
  await new Promise<void>((ok) => {
    const timer = setTimeout(ok, ms);
    socket.once('close', () => {
      clearTimeout(timer);
      ok();
    });
  });
}

/** Sends `chunks` before login, then closes. */
const raw = (name: string, ...chunks: Buffer[]): Case => ({
  name,
  async run(endpoint) {
    const socket = await openSocket(endpoint);
    socket.on('error', () => {});
    for (const chunk of chunks) socket.write(chunk);
    await settle(socket);
    socket.destroy();
  },
});

async function loggedIn(endpoint: Endpoint, password: string) {
  const socket = await openSocket(endpoint);
  const reader = new Reader(socket);
  socket.write(startupMessage());
  await scramLogin(socket, reader, password);
  await reader.untilReady();
  return { socket, reader };
}

/** Logs in, sends `chunks`, then closes. */
const after = (name: string, ...chunks: Buffer[]): Case => ({
  name,
  async run(endpoint, password) {
    const { socket } = await loggedIn(endpoint, password);
    for (const chunk of chunks) socket.write(chunk);
    await settle(socket);
    socket.destroy();
  },
});

/** Logs in, sends a COPY the engine must not run; the client must get our error, never CopyInResponse. */
const copy = (name: string, protocol: 'simple' | 'extended', sql: string): Case => ({
  name,
  async run(endpoint, password) {
    const { socket, reader } = await loggedIn(endpoint, password);
    if (protocol === 'simple') socket.write(message('Q', `${sql}\0`));
    else socket.write(Buffer.concat([message('P', Buffer.concat([Buffer.from(`s1\0${sql}\0`), i16(0)])), message('B', Buffer.concat([Buffer.from('\0s1\0'), i16(0), i16(0), i16(0)])), message('E', Buffer.concat([Buffer.from('\0'), u32(0)])), message('S')]));
    const reply = await reader.untilReady();
    expect(reply.types).not.toContain('G');
    expect(reply.errors.join('; ')).toMatch(/COPY FROM STDIN is not supported by the embedded engine|works only inside the process/);
    socket.end(message('X'));
    await settle(socket);
    socket.destroy();
  },
});

function fixedCases(): Case[] {
  const cases: Case[] = [];
  for (let length = 0; length <= 8; length++) {
    cases.push(raw(`startup length ${length}`, Buffer.concat([u32(length), u32(196608)])));
    cases.push(raw(`startup length ${length}, nothing after`, u32(length)));
  }
  for (const length of [2 ** 31 - 1, 2 ** 31, 2 ** 31 + 7, 2 ** 32 - 2, 2 ** 32 - 1]) {
    cases.push(raw(`startup length ${length}`, Buffer.concat([u32(length), u32(196608), Buffer.alloc(64, 1)])));
    cases.push(after(`message length ${length} after login`, framed('Q', length, Buffer.alloc(64, 0x41))));
    cases.push(after(`unknown message with length ${length}`, framed('z', length)));
  }
  for (let length = 0; length < 4; length++) cases.push(after(`message length ${length} after login`, framed('Q', length), framed('S', length)));
  cases.push(raw('three bytes', Buffer.from([0, 0, 0])));
  cases.push(raw('truncated startup', Buffer.concat([u32(60), u32(196608), Buffer.from('user\0post')])));
  cases.push(raw('protocol 2.0', Buffer.concat([u32(12), u32(2 << 16), Buffer.from('\0\0\0\0')])));
  cases.push(raw('protocol 3.1 with an option', startupMessage({ user: 'postgres', '_pq_.opt': 'x' }).fill(1, 7, 8)));
  cases.push(raw('no user', startupMessage({ database: 'template1' })));
  cases.push(raw('another user', startupMessage({ user: 'aetherlens_app' })));
  cases.push(raw('startup without its last NUL', Buffer.concat([u32(8 + 13), u32(196608), Buffer.from('user\0postgres')])));
  cases.push(raw('ssl, gss, ssl, ssl', ...[80877103, 80877104, 80877103, 80877103].map((code) => Buffer.concat([u32(8), u32(code)]))));
  cases.push(raw('ssl request of length 12', Buffer.concat([u32(12), u32(80877103), u32(0)])));
  cases.push(raw('cancel request for nobody', Buffer.concat([u32(16), u32(80877102), u32(1), u32(2)])));
  cases.push(raw('cancel request of length 12', Buffer.concat([u32(12), u32(80877102), u32(1)])));
  cases.push(raw('query before login', startupMessage(), message('Q', 'select 1\0')));
  cases.push(raw('a 50 MB query before login', startupMessage(), framed('Q', 50_000_000, Buffer.alloc(4096, 0x41))));
  cases.push(raw('wrong SASL mechanism', startupMessage(), message('p', Buffer.concat([Buffer.from('PLAIN\0'), u32(4), Buffer.from('x\0y\0')]))));
  cases.push(raw('SASL length lies', startupMessage(), message('p', Buffer.concat([Buffer.from('SCRAM-SHA-256\0'), u32(2 ** 31), Buffer.from('n,,n=*,r=abc')]))));
  cases.push(raw('SCRAM garbage', startupMessage(), message('p', Buffer.concat([Buffer.from('SCRAM-SHA-256\0'), u32(3), Buffer.from('zzz')]))));
  cases.push(raw('SCRAM channel binding', startupMessage(), message('p', Buffer.concat([Buffer.from('SCRAM-SHA-256\0'), u32(30), Buffer.from('p=tls-server-end-point,,n=*,r=x')]))));
  cases.push(raw('SASL response length 2^32-1', startupMessage(), framed('p', 2 ** 32 - 1, Buffer.alloc(100))));
  for (const type of ['z', 'V', 'A', '\0', '\xff', 'p', 'G', 'W']) cases.push(after(`unknown type ${JSON.stringify(type)} after login`, message(type, 'abc\0')));
  cases.push(after('truncated query', framed('Q', 1000, Buffer.from('select 1'))));
  cases.push(after('truncated header', Buffer.from('Q\0\0')));
  cases.push(after('query without NUL', message('Q', 'select 1')));
  cases.push(after('garbage Parse, then a query', message('P', 'garbage'), message('Q', 'select 1\0')));
  cases.push(after('garbage Bind/Describe/Execute/Close/FunctionCall', ...['B', 'D', 'E', 'C', 'F'].map((t) => message(t, 'garbage'))));
  cases.push(after('CopyData/CopyDone/CopyFail outside COPY', message('d', 'x'), message('c'), message('f', 'x\0'), message('Q', 'select 1\0')));
  cases.push(after('a transaction left open', message('Q', 'begin; create table fuzz_left (x int)\0')));
  cases.push(after('terminate in the middle of a pipeline', message('Q', 'select 1\0'), message('X'), message('Q', 'select 2\0')));
  cases.push(after('client_encoding LATIN1', message('Q', "set client_encoding = 'LATIN1'\0"), message('Q', 'select 1\0')));
  cases.push(after('SET NAMES sjis in the extended protocol', message('P', Buffer.concat([Buffer.from("\0set names 'sjis'\0"), i16(0)])), message('B', Buffer.concat([Buffer.from('\0\0'), i16(0), i16(0), i16(0)])), message('E', Buffer.concat([Buffer.from('\0'), u32(0)])), message('S')));
  for (const sql of COPY_SPELLINGS) {
    cases.push(copy(`simple: ${sql}`, 'simple', sql));
    if (!sql.includes(';') || sql.endsWith(';')) cases.push(copy(`extended: ${sql}`, 'extended', sql.replace(/;+$/, '')));
  }
  cases.push(copy('with standard_conforming_strings off', 'simple', "select 'x\\''; copy fuzz_t from stdin; --'"));
  return cases;
}

const VALID_TYPES = ['Q', 'P', 'B', 'E', 'D', 'C', 'S', 'H', 'F', 'd', 'c', 'f', 'X'];

function randomCase(rng: ReturnType<typeof random>, n: number): Case {
  const kind = rng.int(0, 7);
  const body = () => rng.bytes(rng.int(0, 48));
  switch (kind) {
    case 0:
      return raw(`random ${n}: bytes before login`, rng.bytes(rng.int(1, 96)));
    case 1:
    {
      const length = rng.pick([rng.int(0, 8), rng.int(2 ** 31, 2 ** 32 - 1), rng.int(9, 20_000)]);
      return raw(`random ${n}: startup length ${length}`, Buffer.concat([u32(length), rng.bytes(rng.int(0, 64))]));
    }
    case 2:
      return raw(`random ${n}: startup then bytes`, startupMessage(), rng.bytes(rng.int(1, 64)));
    case 3:
      return after(`random ${n}: bytes after login`, rng.bytes(rng.int(1, 96)));
    case 4:
      return after(`random ${n}: unknown type`, message(String.fromCharCode(rng.pick([0, 1, 0x41, 0x5a, 0x7a, 0x7f, 0xfe, rng.int(0, 255)])), body()));
    case 5:
      return after(`random ${n}: valid type, random body`, message(rng.pick(VALID_TYPES), body()), message('S'));
    case 6: {
      const length = rng.pick([rng.int(0, 3), rng.int(2 ** 31, 2 ** 32 - 1), rng.int(200, 100_000)]);
      return after(`random ${n}: length ${length}`, framed(rng.pick(VALID_TYPES), length, body()));
    }
    default: {
      const sql = rng.pick(COPY_SPELLINGS);
      return copy(`random ${n}: ${sql}`, 'simple', sql.replace(/copy/i, (w) => [...w].map((c) => (rng.next() < 0.5 ? c.toUpperCase() : c.toLowerCase())).join('')));
    }
  }
}

describe('the wire server under random and malformed input', () => {
  let root: string;
  let child: ResultPromise;
  let endpoint: Endpoint;
  let password: string;
  let stderr = '';

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aetherlens-fuzz-'));
    const dataDir = join(root, 'db');
    const port = await freePort();
    child = execa(process.execPath, [CLI, 'local', 'serve', '--port', String(port)], { env: { AETHERLENS_EMBEDDED_DIR: dataDir }, reject: false });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let out = '';
    await new Promise<void>((ok, fail) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('connect: psql')) ok();
      });
      void child.then((r) => fail(new Error(`serve exited ${r.exitCode}: ${String(r.stderr)}`)));
    });
    endpoint = { host: '127.0.0.1', port };
    password = (await readFile(join(dataDir, 'password'), 'utf8')).trim();
    await normalClient('CREATE TABLE fuzz_t (x int)');
  });

  afterAll(async () => {
    child?.kill('SIGTERM');
    await child;
    await rm(root, { recursive: true, force: true });
  });

  async function normalClient(sql = 'SELECT 1 AS one') {
    const client = new pg.Client({ host: endpoint.host, port: endpoint.port, user: 'postgres', password, database: 'template1', connectionTimeoutMillis: 20_000 });
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  }

  test(`stays up and serves a normal client after every case (fixed cases, then random ones for ${SECONDS} s, seed ${SEED})`, async () => {
    const rng = random(SEED);
    const fixed = fixedCases();
    let deadline = Infinity;
    let count = 0;
    // A client that sent 3 bytes holds nothing: others log in and are served meanwhile.
    const holder = await openSocket(endpoint);
    holder.on('error', () => {});
    holder.write(Buffer.from([0, 0, 0]));
    for (let n = 0; n < fixed.length || Date.now() < deadline; n++) {
      if (n === fixed.length) deadline = Date.now() + SECONDS * 1000;
      const c = n < fixed.length ? fixed[n]! : randomCase(rng, n);
      try {
        await c.run(endpoint, password);
        expect(child.exitCode, `the server exited after "${c.name}": ${stderr}`).toBeNull();
        expect(await normalClient(), `a normal client after "${c.name}"`).toEqual([{ one: 1 }]);
      } catch (error) {
        throw new Error(`case ${n} "${c.name}": ${(error as Error).message}\nserver stderr: ${stderr}`, { cause: error });
      }
      count++;
    }
    holder.destroy();
    process.stdout.write(`wire fuzz: ${count} cases (${fixed.length} fixed, ${count - fixed.length} random, seed ${SEED}), server up throughout\n`);
    expect(count).toBeGreaterThan(fixed.length);
    // What a refused COPY left behind: nothing, and the engine still takes a plain INSERT.
    expect(await normalClient('INSERT INTO fuzz_t VALUES (1) RETURNING x')).toEqual([{ x: 1 }]);
  });
});
