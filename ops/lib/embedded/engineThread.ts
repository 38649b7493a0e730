import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { OpsError } from '../errors.js';
import type { EngineReply, EngineRequest, EngineStarted, EngineWorkerData, ErrorFields, QueryOptions, Results, SerializedError } from './engineMessages.js';

export type { Results } from './engineMessages.js';

/** Plain JavaScript, so the thread starts without tsx (see the file). */
const WORKER_ENTRY = new URL('./engineWorker.mjs', import.meta.url);

/** An engine error with PostgreSQL's fields (code, detail, ...), as PGlite throws it. */
export class EngineError extends Error implements ErrorFields {
  code?: string;
  detail?: string;
  hint?: string;
  position?: string;
  where?: string;
  severity?: string;

  constructor(serialized: SerializedError) {
    super(serialized.message);
    this.name = 'EngineError';
    Object.assign(this, serialized);
  }
}

let compiled: Promise<WebAssembly.Module | undefined> | undefined;

/**
 * PGlite's WebAssembly, compiled once per process and shared by every engine thread (a compiled
 * module crosses threads without a copy): each engine after the first skips a ~0.25 s compile.
 * Undefined if it cannot be read here; each thread then compiles its own, as PGlite does.
 */
function engineModule(): Promise<WebAssembly.Module | undefined> {
  compiled ??= (async () => {
    const dist = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'));
    return WebAssembly.compile(await readFile(join(dist, 'pglite.wasm')));
  })().catch(() => undefined);
  return compiled;
}

type Pending = { resolve: (value: unknown) => void; reject: (error: unknown) => void };
type Request = EngineRequest extends infer R ? (R extends EngineRequest ? Omit<R, 'id'> : never) : never;

const running = new Set<EngineThread>();

/**
 * The embedded engine, running in a worker thread of its own: this thread stays free to answer
 * signals, keep locks and time out clients while a statement runs, and can stop the engine
 * mid-statement. A stopped engine is like a crashed server: the next open recovers from its WAL,
 * and what was not committed is gone.
 */
export class EngineThread {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private ended: OpsError | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: EngineReply) => this.settle(reply));
    worker.on('error', (error) => this.end(new OpsError('ENGINE', `the embedded engine stopped: ${error.message}`, { cause: error })));
    worker.on('exit', () => this.end(new OpsError('ENGINE', 'the embedded engine has stopped')));
    worker.unref();
  }

  /**
   * Opens PGDATA in a new worker (an empty one gets initdb); rejects with the engine's own error
   * when it cannot.
   */
  static async start(pgdata: string): Promise<EngineThread> {
    // The engine's own prints stay out of our output (--json must stay JSON); its failures
    // arrive as errors on the worker, and from there in our messages.
    const wasmModule = await engineModule();
    const workerData: EngineWorkerData = { pgdata, ...(wasmModule ? { wasmModule } : {}) };
    const worker = new Worker(WORKER_ENTRY, { workerData, stdout: true, stderr: true });
    worker.stdout.resume();
    worker.stderr.resume();
    let settle: { onMessage?: (m: EngineStarted) => void; onError?: (e: Error) => void; onExit?: (code: number) => void } = {};
    const started = await new Promise<EngineStarted>((resolve, reject) => {
      settle = { onMessage: resolve, onError: reject, onExit: (code) => reject(new Error(`the engine thread exited (${code}) before it opened ${pgdata}`)) };
      worker.once('message', settle.onMessage!);
      worker.once('error', settle.onError!);
      worker.once('exit', settle.onExit!);
    }).finally(() => {
      // Only ours: removeAllListeners() would also take Node's own, and replies would never arrive.
      worker.off('message', settle.onMessage!);
      worker.off('error', settle.onError!);
      worker.off('exit', settle.onExit!);
    });
    if (!started.started) {
      await worker.terminate();
      throw new EngineError(started.error);
    }
    const thread = new EngineThread(worker);
    running.add(thread);
    return thread;
  }

  /**
   * In-process calls (query, exec, dump, sync) wait until `until` settles: the wire
   * server resetting the session a departing client used. Raw protocol calls do not wait.
   */
  holdFor(until: Promise<unknown>): void {
    const before = this.held;
    this.held = Promise.all([before, until.catch(() => {})]).then(() => {});
  }

  private held: Promise<void> = Promise.resolve();

  /** Whether a request is running or waiting. */
  get busy(): boolean {
    return this.pending.size > 0;
  }

  async query<R = Record<string, unknown>>(sql: string, params?: unknown[], options?: QueryOptions): Promise<Results<R>> {
    await this.held;
    return this.call({ op: 'query', sql, ...(params ? { params } : {}), ...(options ? { options } : {}) }) as Promise<Results<R>>;
  }

  async exec(sql: string): Promise<Results[]> {
    await this.held;
    return this.call({ op: 'exec', sql }) as Promise<Results[]>;
  }

  /** Wire-protocol messages, run in order; the replies, one per message. */
  execProtocolRaw(messages: Uint8Array[]): Promise<Uint8Array[]> {
    // Copies that are moved, not cloned: a message is often a view into a larger socket buffer.
    return this.call({ op: 'raw', messages: messages.map((m) => new Uint8Array(m)) }) as Promise<Uint8Array[]>;
  }

  /** `waitForHold` false: the wire server's own flush, which a hold may be waiting on. */
  async syncToFs(waitForHold = true): Promise<void> {
    if (waitForHold) await this.held;
    return this.call({ op: 'sync' }) as Promise<void>;
  }

  /** The in-process pg_dump's plain SQL output. */
  async dump(args: string[]): Promise<Uint8Array> {
    await this.held;
    return this.call({ op: 'dump', args }) as Promise<Uint8Array>;
  }

  /**
   * Closes the engine cleanly once what is running ends, or stops it after `graceMs` if that
   * takes longer (a 30 s statement must not hold up a service stop).
   */
  async close(graceMs = 2_000): Promise<void> {
    if (this.ended) return;
    const closing = this.call({ op: 'close' }).catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
    const outcome = await Promise.race([closing.then(() => 'closed' as const), late]);
    clearTimeout(timer);
    if (outcome === 'late') await this.stop('the embedded engine was stopped before its statement finished');
    await this.worker.terminate();
  }

  /** Stops the engine now, mid-statement if need be; what is waiting fails with ABORTED. */
  async stop(reason = 'interrupted: the embedded engine was stopped mid-statement'): Promise<void> {
    this.end(new OpsError('ABORTED', reason));
    await this.worker.terminate();
  }

  private call(request: Request): Promise<unknown> {
    if (this.ended) return Promise.reject(this.ended);
    const id = this.nextId++;
    const transfer = request.op === 'raw' ? request.messages.map((m) => m.buffer as ArrayBuffer) : [];
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Referenced while a reply is due, so the process waits for it; idle, it may exit.
      this.worker.ref();
      this.worker.postMessage({ ...request, id }, transfer);
    });
  }

  private settle(reply: EngineReply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker.unref();
    if (reply.ok) pending.resolve(reply.value);
    else pending.reject(new EngineError(reply.error));
  }

  private end(error: OpsError): void {
    if (this.ended) return;
    this.ended = error;
    running.delete(this);
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
    this.worker.unref();
  }
}

/**
 * On SIGINT or SIGTERM: engines still running a statement after `graceMs` are stopped, so the
 * command can clean up and exit instead of waiting for the statement (or systemd's SIGKILL).
 */
export async function stopBusyEngines(graceMs = 1_000): Promise<void> {
  const busy = [...running].filter((engine) => engine.busy);
  if (busy.length === 0) return;
  await new Promise((resolve) => setTimeout(resolve, graceMs).unref());
  await Promise.all(busy.filter((engine) => engine.busy).map((engine) => engine.stop()));
}
