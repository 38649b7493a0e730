/** What the main thread and the engine's thread (engineWorker.mjs) say to each other. */

export type EngineRequest = { id: number } & (
  | { op: 'query'; sql: string; params?: unknown[]; options?: QueryOptions }
  | { op: 'exec'; sql: string }
  /** Wire-protocol messages run in order; one reply (all its backend messages) per message. */
  | { op: 'raw'; messages: Uint8Array[] }
  | { op: 'sync' }
  /** The WebAssembly pg_dump's plain SQL output. */
  | { op: 'dump'; args: string[] }
  | { op: 'close' }
);

/** What PGlite's query() options we pass on. */
export interface QueryOptions {
  rowMode?: 'array' | 'object';
}

/** PostgreSQL's fields of an engine error that cross threads beside its message. */
export type ErrorFields = Partial<Record<'code' | 'detail' | 'hint' | 'position' | 'where' | 'severity', string>>;

export interface SerializedError extends ErrorFields {
  message: string;
}

export type EngineReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedError };

export type EngineStarted = { started: true } | { started: false; error: SerializedError };

export interface Results<R = Record<string, unknown>> {
  rows: R[];
  fields: { name: string; dataTypeID: number }[];
  affectedRows?: number;
}

/** What a new engine thread is given. */
export interface EngineWorkerData {
  pgdata: string;
  /** PGlite's WebAssembly, compiled once by the main thread (engineThread.ts). */
  wasmModule?: WebAssembly.Module;
}
