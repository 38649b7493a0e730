/*
 * The embedded engine's own thread. PGlite runs a statement synchronously in WebAssembly: on the
 * main thread a 30 s statement froze signal handlers, lock checks and timers for 30 s. Here it
 * blocks only this thread, and the main thread can still stop it (engineThread.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, protocol } from '@electric-sql/pglite';
import { timescaledb } from '@electric-sql/pglite/timescaledb';
import { ERROR_FIELDS, type EngineReply, type EngineRequest, type EngineStarted, type SerializedError } from './engineMessages.js';

const port = parentPort!;
const { pgdata, template } = workerData as { pgdata: string; template?: Uint8Array };

let forwarding = false;

/*
 * PGlite runs its own parser over every reply, even a raw one, decoding each field of each row
 * and keeping the messages until its next execProtocol() (electric-sql/pglite#1025): ~20 µs per
 * returned row, most of a wire query's time, and a heap that grew while a client stayed. Raw
 * messages are only forwarded, so that parse is off for exactly their synchronous call; query()
 * and exec() parse as before. Skipped with it: PGlite's transaction flag (the wire server reads
 * ReadyForQuery instead) and in-process LISTEN callbacks (wire clients get theirs in the bytes).
 */
const parse = protocol.Parser.prototype.parse;
protocol.Parser.prototype.parse = function (this: protocol.Parser, ...args: Parameters<typeof parse>): void {
  if (!forwarding) parse.apply(this, args);
};

function execRaw(db: PGlite, message: Uint8Array): Uint8Array {
  forwarding = true;
  try {
    // Copied: the engine reuses the reply's buffer on its next call.
    return db.execProtocolRawSync(message).slice();
  } finally {
    forwarding = false;
  }
}

/** What crosses to the main thread: the message and PostgreSQL's fields (code, detail, ...). */
function serialize(error: unknown): SerializedError {
  const e = error as Record<string, unknown>;
  const out: SerializedError = { message: error instanceof Error ? error.message : String(error) };
  for (const key of ERROR_FIELDS) {
    if (typeof e[key] === 'string') out[key] = e[key] as string;
  }
  return out;
}

async function answer(db: PGlite, request: EngineRequest): Promise<{ value: unknown; transfer: ArrayBuffer[] }> {
  switch (request.op) {
    case 'query': {
      const r = await db.query(request.sql, request.params, request.options);
      return { value: { rows: r.rows, fields: r.fields, affectedRows: r.affectedRows }, transfer: [] };
    }
    case 'exec': {
      const results = await db.exec(request.sql);
      return { value: results.map((r) => ({ rows: r.rows, fields: r.fields, affectedRows: r.affectedRows })), transfer: [] };
    }
    case 'raw': {
      const replies = request.messages.map((m) => execRaw(db, m));
      return { value: replies, transfer: replies.map((r) => r.buffer as ArrayBuffer) };
    }
    case 'sync':
      await db.syncToFs();
      return { value: null, transfer: [] };
    case 'dump': {
      // Loaded on first use: the WebAssembly pg_dump is large and only backups need it.
      const { pgDump } = await import('@electric-sql/pglite-tools/pg_dump');
      const file = await pgDump({ pg: db, args: request.args });
      const bytes = new Uint8Array(await file.arrayBuffer());
      return { value: bytes, transfer: [bytes.buffer as ArrayBuffer] };
    }
    case 'template': {
      const bytes = new Uint8Array(await (await db.dumpDataDir('none')).arrayBuffer());
      return { value: bytes, transfer: [bytes.buffer as ArrayBuffer] };
    }
    case 'close':
      await db.close();
      return { value: null, transfer: [] };
  }
}

let db: PGlite;
try {
  db = await PGlite.create({ dataDir: pgdata, extensions: { timescaledb }, ...(template ? { loadDataDir: new Blob([template as Uint8Array<ArrayBuffer>]) } : {}) });
} catch (error) {
  port.postMessage({ started: false, error: serialize(error) } satisfies EngineStarted);
  process.exit(0);
}
// One request at a time, in arrival order: the engine has a single session.
let line: Promise<void> = Promise.resolve();
port.on('message', (request: EngineRequest) => {
  line = line.then(async () => {
    let reply: EngineReply;
    let transfer: ArrayBuffer[] = [];
    try {
      const done = await answer(db, request);
      reply = { id: request.id, ok: true, value: done.value };
      transfer = done.transfer;
    } catch (error) {
      reply = { id: request.id, ok: false, error: serialize(error) };
    }
    port.postMessage(reply, transfer);
    if (request.op === 'close') port.close();
  });
});
port.postMessage({ started: true } satisfies EngineStarted);
