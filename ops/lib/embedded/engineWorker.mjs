// @ts-check
/*
 * The embedded engine's own thread. PGlite runs a statement synchronously in WebAssembly: on the
 * main thread a 30 s statement froze signal handlers, lock checks and timers for 30 s. Here it
 * blocks only this thread, and the main thread can still stop it (engineThread.ts).
 *
 * Plain JavaScript (type-checked through the JSDoc below): a worker thread does not inherit tsx's
 * hooks, and registering them in each worker cost ~0.8 s per engine start, most of it making
 * every later import (PGlite's included) go through the hooks.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, protocol } from '@electric-sql/pglite';
import { timescaledb } from '@electric-sql/pglite/timescaledb';

/** @typedef {import('./engineMessages.js').EngineRequest} EngineRequest */
/** @typedef {import('./engineMessages.js').EngineReply} EngineReply */
/** @typedef {import('./engineMessages.js').EngineStarted} EngineStarted */
/** @typedef {import('./engineMessages.js').SerializedError} SerializedError */
/** @typedef {import('./engineMessages.js').EngineWorkerData} EngineWorkerData */

/** PostgreSQL's fields of an engine error that cross threads beside its message. */
/** @type {ReadonlyArray<keyof import('./engineMessages.js').ErrorFields>} */
const ERROR_FIELDS = ['code', 'detail', 'hint', 'position', 'where', 'severity'];

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
const { pgdata, wasmModule } = /** @type {EngineWorkerData} */ (workerData);

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
/** @type {typeof parse} */
protocol.Parser.prototype.parse = function (...args) {
  if (!forwarding) parse.apply(this, args);
};

/**
 * @param {PGlite} db
 * @param {Uint8Array} message
 * @returns {Uint8Array}
 */
function execRaw(db, message) {
  forwarding = true;
  try {
    // Copied: the engine reuses the reply's buffer on its next call.
    return db.execProtocolRawSync(message).slice();
  } finally {
    forwarding = false;
  }
}

/**
 * What crosses to the main thread: the message and PostgreSQL's fields (code, detail, ...).
 * @param {unknown} error
 * @returns {SerializedError}
 */
function serialize(error) {
  const e = /** @type {Record<string, unknown>} */ (error);
  /** @type {SerializedError} */
  const out = { message: error instanceof Error ? error.message : String(error) };
  for (const key of ERROR_FIELDS) {
    const value = e?.[key];
    if (typeof value === 'string') out[key] = value;
  }
  return out;
}

/**
 * @param {PGlite} db
 * @param {EngineRequest} request
 * @returns {Promise<{ value: unknown; transfer: ArrayBuffer[] }>}
 */
async function answer(db, request) {
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
      return { value: replies, transfer: replies.map((r) => /** @type {ArrayBuffer} */ (r.buffer)) };
    }
    case 'sync':
      await db.syncToFs();
      return { value: null, transfer: [] };
    case 'dump': {
      // Loaded on first use: the WebAssembly pg_dump is large and only backups need it.
      const { pgDump } = await import('@electric-sql/pglite-tools/pg_dump');
      const file = await pgDump({ pg: db, args: request.args });
      const bytes = new Uint8Array(await file.arrayBuffer());
      return { value: bytes, transfer: [bytes.buffer] };
    }
    case 'close':
      await db.close();
      return { value: null, transfer: [] };
  }
}

/** @type {PGlite} */
let db;
try {
  db = await PGlite.create({
    dataDir: pgdata,
    extensions: { timescaledb },
    ...(wasmModule ? { wasmModule } : {}),
  });
} catch (error) {
  port.postMessage(/** @type {EngineStarted} */ ({ started: false, error: serialize(error) }));
  process.exit(0);
}
// One request at a time, in arrival order: the engine has a single session.
let line = Promise.resolve();
port.on('message', (/** @type {EngineRequest} */ request) => {
  line = line.then(async () => {
    /** @type {EngineReply} */
    let reply;
    /** @type {ArrayBuffer[]} */
    let transfer = [];
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
port.postMessage(/** @type {EngineStarted} */ ({ started: true }));
