/** What the main thread and the engine's thread (engineWorker.ts) say to each other. */

export type EngineRequest = { id: number } & (
  | { op: 'query'; sql: string; params?: unknown[]; options?: QueryOptions }
  | { op: 'exec'; sql: string }
  /** Wire-protocol messages run in order; one reply (all its backend messages) per message. */
  | { op: 'raw'; messages: Uint8Array[] }
  | { op: 'sync' }
  /** The WebAssembly pg_dump's plain SQL output. */
  | { op: 'dump'; args: string[] }
  /** PGlite's tar of the whole cluster (clusterTemplate.ts). */
  | { op: 'template' }
  | { op: 'close' }
);

/** What PGlite's query() options we pass on. */
export interface QueryOptions {
  rowMode?: 'array' | 'object';
}

export interface SerializedError {
  message: string;
  code?: string;
  detail?: string;
  hint?: string;
  position?: string;
  where?: string;
  severity?: string;
}

export type EngineReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedError };

export type EngineStarted = { started: true } | { started: false; error: SerializedError };

export interface Results<R = Record<string, unknown>> {
  rows: R[];
  fields: { name: string; dataTypeID: number }[];
  affectedRows?: number;
}
