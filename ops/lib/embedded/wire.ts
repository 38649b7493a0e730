import { createServer, type Server, type Socket } from 'node:net';
import { protocol, type PGlite } from '@electric-sql/pglite';

/** Protocol codes a client may send instead of a startup message (PostgreSQL protocol 3.0). */
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;

/** An ErrorResponse for a client we cannot serve, written before we close it. */
function errorResponse(code: string, message: string, severity = 'FATAL'): Buffer {
  const fields = Buffer.concat([
    Buffer.from(`S${severity}\0V${severity}\0C${code}\0M${message}\0`, 'utf8'),
    Buffer.from([0]),
  ]);
  const header = Buffer.alloc(5);
  header.write('E', 0, 'ascii');
  header.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([header, fields]);
}

/**
 * Splits a byte stream into whole protocol messages. TCP delivers chunks of any size; the engine
 * must see each message whole (pglite-socket 0.0.20 forwards raw chunks, and a message over
 * ~64 KB arrives split and crashes the engine).
 */
export class MessageFramer {
  private chunks: Buffer[] = [];
  private length = 0;
  private started = false;

  /** Bytes the next message needs in all, once its header is in; undefined before that. */
  private needed(): number | undefined {
    const headerBytes = this.started ? 5 : 8;
    if (this.length < headerBytes) return undefined;
    if (this.chunks[0]!.length < headerBytes) this.flatten();
    const head = this.chunks[0]!;
    return this.started ? 1 + head.readInt32BE(1) : head.readInt32BE(0);
  }

  private flatten(): void {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.length)];
  }

  /** Adds bytes; returns the complete messages now available, in order. */
  push(chunk: Buffer): { kind: 'startup' | 'ssl' | 'cancel' | 'message'; bytes: Buffer }[] {
    this.chunks.push(chunk);
    this.length += chunk.length;
    const out: { kind: 'startup' | 'ssl' | 'cancel' | 'message'; bytes: Buffer }[] = [];
    for (let need = this.needed(); need !== undefined && this.length >= need; need = this.needed()) {
      // Joined only once a whole message is in, so a large message costs one copy, not many.
      this.flatten();
      const all = this.chunks[0]!;
      const bytes = all.subarray(0, need);
      const rest = all.subarray(need);
      this.chunks = rest.length ? [rest] : [];
      this.length = rest.length;
      if (this.started) {
        out.push({ kind: 'message', bytes });
        continue;
      }
      const code = bytes.readInt32BE(4);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) out.push({ kind: 'ssl', bytes });
      else if (code === CANCEL_REQUEST) out.push({ kind: 'cancel', bytes });
      else {
        this.started = true;
        out.push({ kind: 'startup', bytes });
      }
    }
    return out;
  }
}

/** Transaction status bytes of ReadyForQuery: idle, in a transaction, in a failed transaction. */
const IDLE = 0x49;

/** ReadyForQuery with the session's transaction status. */
function readyForQuery(status: number): Buffer {
  return Buffer.from([0x5a, 0, 0, 0, 5, status]);
}

/** The transaction status of the last ReadyForQuery in a reply, or `current` if it has none. */
function transactionStatus(reply: Uint8Array, current: number): number {
  const view = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
  let status = current;
  for (let at = 0; at + 5 <= reply.length;) {
    const length = view.getInt32(at + 1);
    if (length < 4) break;
    if (reply[at] === 0x5a && at + 5 < reply.length) status = reply[at + 5]!;
    at += 1 + length;
  }
  return status;
}

let forwarding = false;
let parserPatched = false;

/**
 * Runs one message; the reply is a view into a buffer the engine reuses on its next call.
 * PGlite runs its own parser over every reply, even a raw one, decoding each field of each row
 * and keeping the messages until its next execProtocol() (electric-sql/pglite#1025): ~20 µs per
 * returned row, most of a wire query's time, and a heap that grew while a client stayed. The
 * wire server only forwards bytes, so that parse (shared by every PGlite in the process) is off
 * for exactly this synchronous call; db.query() and db.exec() parse as before. Skipped with it:
 * PGlite's transaction flag (we read ReadyForQuery instead) and in-process LISTEN callbacks
 * (wire clients get their notifications in the bytes).
 */
function execRaw(db: PGlite, message: Buffer): Uint8Array {
  if (!parserPatched) {
    parserPatched = true;
    const parse = protocol.Parser.prototype.parse;
    protocol.Parser.prototype.parse = function (this: protocol.Parser, ...args: Parameters<typeof parse>): void {
      if (!forwarding) parse.apply(this, args);
    };
  }
  forwarding = true;
  try {
    return db.execProtocolRawSync(new Uint8Array(message.buffer, message.byteOffset, message.length));
  } finally {
    forwarding = false;
  }
}

/**
 * The engine crashes the whole process (WebAssembly "unreachable") on COPY FROM STDIN. A simple
 * query that asks for it is answered here with an ordinary error instead.
 */
function isCopyFromStdin(message: Buffer): boolean {
  if (message[0] !== 0x51) return false;
  const text = message.subarray(5, message.length - 1).toString('utf8');
  return /^\s*copy\b[\s\S]*\bfrom\s+stdin\b/i.test(text);
}

/**
 * Serves one PGlite instance over the PostgreSQL wire protocol on TCP. The engine has a single
 * session, so clients are served one at a time: the others wait in line up to `queueTimeoutMs`,
 * then get a "busy" error. When a client leaves, its open transaction is rolled back and its
 * session state discarded, so the next client never inherits it.
 */
export class WireServer {
  private server: Server | undefined;
  private active: Socket | undefined;
  private readonly waiting: { socket: Socket; timer: NodeJS.Timeout }[] = [];
  private work: Promise<void> = Promise.resolve();
  private readonly sockets = new Set<Socket>();
  /** The served session's transaction status, from the engine's last ReadyForQuery. */
  private status = IDLE;

  constructor(
    private readonly db: PGlite,
    private readonly options: { host: string; port: number; queueTimeoutMs: number },
  ) {}

  async start(): Promise<number> {
    const server = createServer((socket) => this.arrive(socket));
    this.server = server;
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(this.options.port, this.options.host, () => ok());
    });
    const address = server.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  async stop(): Promise<void> {
    for (const { socket, timer } of this.waiting.splice(0)) {
      clearTimeout(timer);
      socket.destroy();
    }
    for (const socket of this.sockets) socket.destroy();
    await this.work.catch(() => {});
    await new Promise<void>((ok) => (this.server ? this.server.close(() => ok()) : ok()));
  }

  private arrive(socket: Socket): void {
    socket.setNoDelay(true);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    if (!this.active) return this.serve(socket);
    // Data a waiting client sends is kept by the socket until we start reading it.
    socket.pause();
    const timer = setTimeout(() => {
      const index = this.waiting.findIndex((w) => w.socket === socket);
      if (index >= 0) this.waiting.splice(index, 1);
      socket.end(errorResponse('53300', `the embedded database serves one connection at a time and it stayed busy for ${this.options.queueTimeoutMs / 1000} s: try again later`), () => socket.destroy());
    }, this.options.queueTimeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      const index = this.waiting.findIndex((w) => w.socket === socket);
      if (index >= 0) this.waiting.splice(index, 1);
    });
    this.waiting.push({ socket, timer });
  }

  private serve(socket: Socket): void {
    this.active = socket;
    this.status = IDLE;
    const framer = new MessageFramer();
    socket.on('data', (chunk: Buffer) => {
      const batch: Buffer[] = [];
      for (const message of framer.push(chunk)) {
        if (message.kind === 'ssl') socket.write('N');
        else if (message.kind === 'cancel') socket.destroy();
        else batch.push(message.bytes);
      }
      if (batch.length > 0) this.enqueue(socket, batch);
    });
    socket.once('close', () => {
      this.enqueue(socket, undefined);
    });
    socket.resume();
  }

  /**
   * Messages run one after another, in arrival order, across all clients. The messages of one
   * TCP chunk (a query's Parse/Bind/Describe/Execute/Sync) run back to back and their replies
   * leave in one write.
   */
  private enqueue(socket: Socket, batch: Buffer[] | undefined): void {
    this.work = this.work.then(async () => {
      if (batch === undefined) return this.leave(socket);
      const replies: Buffer[] = [];
      let failure: unknown;
      try {
        for (const bytes of batch) {
          if (isCopyFromStdin(bytes)) {
            replies.push(errorResponse('0A000', 'COPY FROM STDIN is not supported by the embedded engine: use INSERT, or COPY on a PostgreSQL server', 'ERROR'), readyForQuery(this.status));
            continue;
          }
          const reply = execRaw(this.db, bytes);
          if (reply.length === 0) continue;
          this.status = transactionStatus(reply, this.status);
          // Copied now: the engine overwrites the reply's buffer on its next call.
          replies.push(Buffer.from(reply));
        }
      } catch (error) {
        // The replies of messages that already ran (a COMMIT, say) still go out before the socket closes.
        failure = error;
      }
      // What execProtocolRaw() does after each message; before any reply leaves, so no client
      // sees a commit acknowledged ahead of it.
      await this.db.syncToFs();
      if (replies.length > 0 && socket.writable) {
        // Corked: one writev, without copying a large result again to join it.
        socket.cork();
        for (const reply of replies) socket.write(reply);
        socket.uncork();
      }
      if (failure !== undefined) throw failure;
    }).catch(() => {
      // end(), not destroy(): the replies written above are flushed before the socket closes.
      socket.end();
    });
  }

  private async leave(socket: Socket): Promise<void> {
    if (this.active !== socket) return;
    // The session outlives the client: give the next one a clean session.
    await this.db.exec('ROLLBACK').catch(() => {});
    await this.db.exec('DISCARD ALL').catch(() => {});
    // This build's default search_path is pg_catalog; PGlite sets public when it opens.
    await this.db.exec('SET search_path TO public').catch(() => {});
    this.active = undefined;
    const next = this.waiting.shift();
    if (next) {
      clearTimeout(next.timer);
      this.serve(next.socket);
    }
  }
}
