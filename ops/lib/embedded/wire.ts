import { randomBytes, randomInt } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { EngineThread } from './engineThread.js';
import { mayNeedRefusal, refuseStatement, type Refusal } from './guard.js';
import {
  IDLE, MessageFramer, ProtocolViolation, authentication, backendKeyData, cString, errorResponse, forEachMessage,
  frontendMessage, negotiateProtocolVersion, parseStartup, readyForQuery, startupPacket, transactionStatus,
} from './protocol.js';
import { SCRAM_MECHANISM, ScramError, ScramExchange, scramVerifier, type ScramVerifier } from './scram.js';

export { MessageFramer } from './protocol.js';

/*
 * Why our own server and not pg-gateway (the server-side protocol library made for PGlite): its
 * npm release (0.2.4) has no SCRAM, and the 0.3 betas frame with unchecked lengths (a length of
 * 0 or 2^32-1 loops or buffers without bound), have no startup or idle timeout, and run every
 * message through web streams and async iterators. The framing, timeouts, queue and auth it
 * lacks are most of this file, so it would save little and cost latency.
 */

/** The engine's only role: it ignores the user a client names, so any other name is refused. */
export const ENGINE_USER = 'postgres';

export interface WireServerOptions {
  /** A TCP address, or the path of a Unix socket (in a directory only its owner can enter). */
  listen: { host: string; port: number } | { path: string };
  /** What SCRAM-SHA-256 checks the client against. */
  password: string;
  /** PBKDF2 rounds the client spends per login (default 4096, PostgreSQL's). */
  scramIterations?: number;
  /** How long an authenticated client waits for the single session before it is told it is busy. */
  queueTimeoutMs: number;
  /** From connect to authenticated; PostgreSQL's authentication_timeout is 60 s. */
  startupTimeoutMs?: number;
  /** A served client idle this long is closed when another client waits for the session. */
  idleTimeoutMs?: number;
  /** Authenticated clients waiting for the session. */
  maxWaiting?: number;
  /** Connections not yet served (authenticating or waiting). */
  maxPending?: number;
  maxMessageBytes?: number;
}

type Phase = 'startup' | 'auth' | 'waiting' | 'active';

class Client {
  phase: Phase = 'startup';
  ending = false;
  running = false;
  /** The session was reset for the next user already (at Terminate). */
  reset = false;
  /** Its leave() is queued. */
  leaving = false;
  timer: NodeJS.Timeout | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  lastActive = Date.now();
  scram: ScramExchange | undefined;
  encryptionRequests = 0;
  /** Messages framed after authentication, numbered in arrival order; `held` are not run yet. */
  received = 0;
  readonly held: { seq: number; bytes: Buffer }[] = [];
  /** A CancelRequest cancels the first statement numbered below this that has not run. */
  cancelBefore = 0;
  readonly pid = randomInt(1, 2 ** 31 - 1);
  readonly secret = randomBytes(4).readInt32BE(0);
  readonly framer: MessageFramer;

  constructor(readonly socket: Socket, maxMessageBytes: number | undefined) {
    this.framer = new MessageFramer(maxMessageBytes, { authenticated: false });
  }
}

const CANCELED: Refusal = { code: '57014', message: 'canceling statement due to user request' };
/** A Parse the engine rejects (no terminator): it answers ERROR and skips to the next Sync. */
const BROKEN_PARSE = frontendMessage('P', 'x');
const SYNC = frontendMessage('S');
const STATEMENTS = new Set([0x51, 0x45]); // Q, E
/** What a departing client's session gets, so the next one starts clean. */
const RESET = ['ROLLBACK', 'DISCARD ALL', 'SET search_path TO public'];
/** How long stop() lets the running statement finish: a service stop must end within 2 s. */
const STOP_WAIT_MS = 800;
/** Replies a client may leave unread before we stop reading what it sends. */
const MAX_UNSENT_BYTES = 1024 * 1024;

/**
 * Serves one PGlite instance over the PostgreSQL wire protocol. Every client authenticates with
 * SCRAM-SHA-256 before it may wait for the engine; the engine has a single session, so clients
 * are served one at a time and the others wait in a bounded line. When a client leaves, its open
 * transaction is rolled back and its session state discarded, so the next client never inherits
 * it. No input reaches the engine that it cannot survive: lengths are bounded, message types
 * checked, and statements it would die of refused (guard.ts).
 */
export class WireServer {
  private server: Server | undefined;
  private readonly verifier: ScramVerifier;
  private readonly clients = new Set<Client>();
  private active: Client | undefined;
  private readonly waiting: Client[] = [];
  private work: Promise<void> = Promise.resolve();
  /** The served session's transaction status, from the engine's last ReadyForQuery. */
  private status = IDLE;
  private failure: string | undefined;
  private readonly startupTimeoutMs: number;
  private readonly idleTimeoutMs: number;

  constructor(
    private readonly db: EngineThread,
    private readonly options: WireServerOptions,
  ) {
    this.verifier = scramVerifier(options.password, options.scramIterations);
    this.startupTimeoutMs = options.startupTimeoutMs ?? 10_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 10_000;
  }

  /** Listens; returns the TCP port (0 for a Unix socket). */
  async start(): Promise<number> {
    const server = createServer((socket) => this.arrive(socket));
    this.server = server;
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      if ('path' in this.options.listen) server.listen(this.options.listen.path, () => ok());
      else server.listen(this.options.listen.port, this.options.listen.host, () => ok());
    });
    server.on('error', () => {});
    const address = server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  async stop(): Promise<void> {
    for (const client of this.clients) {
      clearTimeout(client.timer);
      clearTimeout(client.idleTimer);
      client.socket.destroy();
    }
    this.waiting.splice(0);
    // A statement still running after this is the engine's to stop (EngineThread.close).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.work.catch(() => {}), new Promise((ok) => (timer = setTimeout(ok, STOP_WAIT_MS)))]);
    clearTimeout(timer);
    await new Promise<void>((ok) => (this.server ? this.server.close(() => ok()) : ok()));
  }

  private arrive(socket: Socket): void {
    socket.on('error', () => socket.destroy());
    if (this.failure) {
      socket.end(errorResponse('57P03', this.failure));
      return;
    }
    const pending = this.clients.size - (this.active ? 1 : 0);
    if (pending >= (this.options.maxPending ?? 64)) {
      socket.end(errorResponse('53300', 'too many connections are waiting for the embedded database: try again later'));
      return;
    }
    if ('setNoDelay' in socket && !('path' in this.options.listen)) socket.setNoDelay(true);
    const client = new Client(socket, this.options.maxMessageBytes);
    this.clients.add(client);
    socket.on('data', (chunk: Buffer) => this.receive(client, chunk));
    socket.once('end', () => this.departing(client));
    socket.once('close', () => this.gone(client));
    client.timer = setTimeout(() => this.terminate(client, '57014', `canceling authentication due to timeout: a client must log in within ${this.startupTimeoutMs / 1000} s`), this.startupTimeoutMs);
  }

  /** Writes a FATAL error (if any) and closes; the 'close' event cleans up. */
  private terminate(client: Client, code?: string, message?: string): void {
    if (client.ending) return;
    client.ending = true;
    clearTimeout(client.timer);
    clearTimeout(client.idleTimer);
    const { socket } = client;
    const destroy = () => socket.destroy();
    if (code && message) socket.end(errorResponse(code, message), destroy);
    else socket.end(destroy);
    // A peer that reads nothing never lets the end finish.
    setTimeout(() => socket.destroy(), 2_000).unref();
  }

  private receive(client: Client, chunk: Buffer): void {
    if (client.ending) return;
    try {
      for (const message of client.framer.push(chunk)) {
        if (client.ending) return;
        if (client.phase === 'waiting' || client.phase === 'active') client.held.push({ seq: client.received++, bytes: message.bytes });
        else if (message.kind === 'ssl') this.refuseEncryption(client);
        else if (message.kind === 'cancel') this.cancel(client, message.bytes);
        else if (message.kind === 'startup') this.startup(client, message.bytes);
        else this.authenticate(client, message.bytes);
      }
    } catch (error) {
      if (!(error instanceof ProtocolViolation)) throw error;
      return this.terminate(client, error.code, error.message);
    }
    if (client.phase === 'active') this.pump(client);
  }

  private refuseEncryption(client: Client): void {
    // No TLS or GSS on a loopback or Unix socket: 'N', and the client goes on in the clear.
    if (++client.encryptionRequests > 2) throw new ProtocolViolation('too many encryption requests');
    client.socket.write('N');
  }

  /** A CancelRequest (on its own connection): its target's next statement received before it fails. */
  private cancel(client: Client, bytes: Buffer): void {
    const pid = bytes.readInt32BE(8);
    const secret = bytes.readInt32BE(12);
    for (const target of this.clients) {
      if (target.pid === pid && target.secret === secret && target.phase === 'active') target.cancelBefore = target.received;
    }
    this.terminate(client);
  }

  private startup(client: Client, bytes: Buffer): void {
    const packet = parseStartup(bytes);
    const user = packet.parameters.get('user');
    if (!user) throw new ProtocolViolation('no PostgreSQL user name specified in startup packet', '28000');
    if (user !== ENGINE_USER) throw new ProtocolViolation(`role "${user}" cannot log in: the embedded engine has one role, ${ENGINE_USER}`, '28000');
    if (packet.minor > 0) client.socket.write(negotiateProtocolVersion([...packet.parameters.keys()].filter((k) => k.startsWith('_pq_.'))));
    client.phase = 'auth';
    client.socket.write(authentication(10, Buffer.from(`${SCRAM_MECHANISM}\0\0`)));
  }

  /** SASLInitialResponse, then SASLResponse: SCRAM-SHA-256's two round trips. */
  private authenticate(client: Client, bytes: Buffer): void {
    if (bytes[0] !== 0x70) throw new ProtocolViolation(`expected SASL response, got message type ${bytes[0]}`);
    try {
      if (!client.scram) {
        const mechanism = cString(bytes, 5);
        if (!mechanism || mechanism.end + 5 > bytes.length) throw new ProtocolViolation('malformed SASL initial response');
        if (mechanism.text !== SCRAM_MECHANISM) throw new ProtocolViolation('client selected an invalid SASL authentication mechanism', '28000');
        const length = bytes.readInt32BE(mechanism.end + 1);
        const data = bytes.subarray(mechanism.end + 5);
        if (length !== data.length) throw new ProtocolViolation('malformed SASL initial response');
        client.scram = new ScramExchange(this.verifier);
        client.socket.write(authentication(11, Buffer.from(client.scram.first(data.toString('utf8')))));
        return;
      }
      const serverFinal = client.scram.final(bytes.toString('utf8', 5));
      if (serverFinal === undefined) throw new ProtocolViolation(`password authentication failed for user "${ENGINE_USER}"`, '28P01');
      client.socket.write(authentication(12, Buffer.from(serverFinal)));
    } catch (error) {
      if (error instanceof ScramError) throw new ProtocolViolation(error.message);
      throw error;
    }
    clearTimeout(client.timer);
    client.phase = 'waiting';
    client.framer.allowLarge();
    this.admit(client);
  }

  private admit(client: Client): void {
    if (this.failure) return this.terminate(client, '57P03', this.failure);
    if (!this.active) return this.grant(client);
    if (this.waiting.length >= (this.options.maxWaiting ?? 16)) {
      return this.terminate(client, '53300', 'too many clients are waiting for the embedded database: try again later');
    }
    // What a waiting client sends stays in the socket until it is served.
    client.socket.pause();
    client.timer = setTimeout(() => {
      this.dequeue(client);
      this.terminate(client, '53300', `the embedded database serves one connection at a time and it stayed busy for ${this.options.queueTimeoutMs / 1000} s: try again later`);
    }, this.options.queueTimeoutMs);
    this.waiting.push(client);
    this.watchIdle(this.active);
  }

  private dequeue(client: Client): void {
    const index = this.waiting.indexOf(client);
    if (index >= 0) this.waiting.splice(index, 1);
  }

  /** Closes the served client once it has been idle for idleTimeoutMs while someone waits. */
  private watchIdle(client: Client): void {
    clearTimeout(client.idleTimer);
    if (client.running || client.ending || this.waiting.length === 0) return;
    const left = client.lastActive + this.idleTimeoutMs - Date.now();
    client.idleTimer = setTimeout(() => {
      if (client.running || this.waiting.length === 0) return;
      this.terminate(client, '57P05', `terminating connection: idle for ${this.idleTimeoutMs / 1000} s while another client waited for the embedded database`);
    }, Math.max(0, left));
  }

  /** The client gets the session: the engine's own login reply, with our BackendKeyData. */
  private grant(client: Client): void {
    clearTimeout(client.timer);
    this.active = client;
    client.phase = 'active';
    this.status = IDLE;
    client.running = true;
    this.queue(client, async () => {
      // The engine asks for an MD5 password (R 5) and takes any on the first login; later ones
      // are accepted at once. We authenticated already: its R messages give way to one R 0.
      const out: Buffer[] = [authentication(0)];
      let ready = false;
      for (const m of [startupPacket({ user: ENGINE_USER, database: 'template1' }), frontendMessage('p', 'md5-unused\0')]) {
        if (ready) break;
        const [reply] = await this.db.execProtocolRaw([m]);
        forEachMessage(reply!, (type, start, end) => {
          if (type === 0x52) return;
          if (type === 0x5a) ready = true;
          out.push(type === 0x4b ? backendKeyData(client.pid, client.secret) : Buffer.from(reply!.subarray(start - 5, end)));
        });
      }
      return out;
    });
  }

  /** Runs what the served client has sent, one batch at a time, and reads on when it is done. */
  private pump(client: Client): void {
    if (client.running || client.ending || client.held.length === 0) return;
    client.running = true;
    clearTimeout(client.idleTimer);
    client.socket.pause();
    this.queue(client, () => this.runHeld(client));
  }

  /**
   * Work on the engine runs in one line across all clients. Replies of a step leave in one write
   * (corked), after syncToFs(), so no client sees a commit acknowledged before it is on disk.
   */
  private queue(client: Client, step: () => Promise<Buffer[]>): void {
    this.work = this.work.then(async () => {
      let replies: Buffer[] = [];
      let failure: unknown;
      try {
        replies = await step();
      } catch (error) {
        failure = error;
        replies = (error as { replies?: Buffer[] }).replies ?? [];
      }
      await this.send(client, replies);
      client.running = false;
      if (failure !== undefined) return this.failed(client, failure);
      client.lastActive = Date.now();
      if (client.ending || this.active !== client) return;
      const resume = () => {
        if (client.held.length > 0) this.pump(client);
        else {
          client.socket.resume();
          this.watchIdle(client);
        }
      };
      // A client that does not read its replies is not read from either: memory stays bounded.
      if (client.socket.writableLength > MAX_UNSENT_BYTES) {
        this.watchIdle(client);
        client.socket.once('drain', resume);
      } else resume();
    });
  }

  private async send(client: Client, replies: Buffer[]): Promise<void> {
    if (replies.length === 0) return;
    await this.db.syncToFs(false).catch(() => {});
    if (!client.socket.writable) return;
    client.socket.cork();
    for (const reply of replies) client.socket.write(reply);
    client.socket.uncork();
  }

  private async failed(client: Client, error: unknown): Promise<void> {
    if (error instanceof ProtocolViolation) return this.terminate(client, error.code, error.message);
    // The engine threw: if it no longer answers, every client from now on is told so.
    try {
      await this.db.execProtocolRaw([SYNC, frontendMessage('Q', 'SELECT 1\0')]);
    } catch {
      this.failure = `the embedded engine stopped after an internal error (${(error as Error).message}): restart it`;
      for (const other of [...this.waiting, client]) this.terminate(other, '57P03', this.failure);
      this.waiting.splice(0);
      return;
    }
    this.terminate(client, 'XX000', `the embedded engine failed on this client's message: ${(error as Error).message}`);
  }

  /** The held messages, in order; stops at Terminate. */
  private async runHeld(client: Client): Promise<Buffer[]> {
    const replies: Buffer[] = [];
    try {
      while (client.held.length > 0 && !client.ending) {
        const { seq, bytes } = client.held.shift()!;
        if (!(await this.step(client, seq, bytes, replies))) {
          // Reset before the socket closes: a client that waits for the close (pg's end()) and
          // then uses the engine in-process must find the session as clean as the next client would.
          await this.send(client, replies.splice(0));
          await this.resetSession();
          client.reset = true;
          this.terminate(client);
          break;
        }
        // Between statements of a pipeline, let a CancelRequest in: the event loop's poll phase
        // accepts its connection on one turn and reads it on the next (three checks cover both).
        if (STATEMENTS.has(bytes[0]!) && client.held.some((m) => STATEMENTS.has(m.bytes[0]!))) {
          await this.send(client, replies.splice(0));
          for (let turn = 0; turn < 3; turn++) await new Promise((ok) => setImmediate(ok));
        }
      }
    } catch (error) {
      // Replies of messages that already ran (a COMMIT, say) still go out before the socket closes.
      throw Object.assign(error as object, { replies });
    }
    return replies;
  }

  /** One message of a served client; false when it asked to close. */
  private async step(client: Client, seq: number, bytes: Buffer, replies: Buffer[]): Promise<boolean> {
    const type = bytes[0]!;
    switch (type) {
      case 0x58: // X Terminate
        return false;
      case 0x64: // d, c, f outside COPY: PostgreSQL ignores them
      case 0x63:
      case 0x66:
        return true;
      case 0x51: { // Q
        const refusal = this.takeCancel(client, seq) ?? (await this.refusal(bytes, 5));
        if (refusal) replies.push(errorResponse(refusal.code, refusal.message, 'ERROR'), readyForQuery(this.status));
        else await this.exec(bytes, replies);
        return true;
      }
      case 0x50: { // P Parse: name, then the statement
        const name = cString(bytes, 5);
        const refusal = name ? await this.refusal(bytes, name.end + 1) : undefined;
        if (refusal) await this.failExtended(refusal, replies);
        else await this.exec(bytes, replies);
        return true;
      }
      case 0x45: { // E Execute
        const refusal = this.takeCancel(client, seq);
        if (refusal) await this.failExtended(refusal, replies);
        else await this.exec(bytes, replies);
        return true;
      }
      case 0x42: // B D C S H F: the engine checks their contents and answers errors itself
      case 0x44:
      case 0x43:
      case 0x53:
      case 0x48:
      case 0x46:
        await this.exec(bytes, replies);
        return true;
      default:
        // The engine exits on an unknown type (a FATAL error is "unreachable" in WebAssembly).
        throw new ProtocolViolation(`invalid frontend message type ${type}`);
    }
  }

  private takeCancel(client: Client, seq: number): Refusal | undefined {
    if (seq >= client.cancelBefore) return undefined;
    client.cancelBefore = 0;
    return CANCELED;
  }

  /** The refusal for the NUL-terminated SQL at `from`, if the engine must not run it. */
  private async refusal(bytes: Buffer, from: number): Promise<Refusal | undefined> {
    const end = bytes.indexOf(0, from);
    // Without a terminator the engine answers "invalid string in message" and runs nothing.
    if (end < 0) return undefined;
    const sql = bytes.subarray(from, end);
    return mayNeedRefusal(sql) ? refuseStatement(sql) : undefined;
  }

  /**
   * An error in the extended protocol: the engine gets a Parse it rejects, so it skips to the
   * next Sync and fails an open transaction as PostgreSQL would; the client gets our message.
   */
  private async failExtended(refusal: Refusal, replies: Buffer[]): Promise<void> {
    await this.db.execProtocolRaw([BROKEN_PARSE]);
    replies.push(errorResponse(refusal.code, refusal.message, 'ERROR'));
  }

  private async exec(bytes: Buffer, replies: Buffer[]): Promise<void> {
    const [reply] = await this.db.execProtocolRaw([bytes]);
    if (!reply || reply.length === 0) return;
    this.status = transactionStatus(reply, this.status);
    replies.push(Buffer.from(reply.buffer, reply.byteOffset, reply.length));
  }

  private gone(client: Client): void {
    clearTimeout(client.timer);
    clearTimeout(client.idleTimer);
    client.ending = true;
    this.clients.delete(client);
    if (client.phase === 'waiting') this.dequeue(client);
    this.departing(client);
  }

  /**
   * The served client's connection ends: its session is reset next in line. The peer's FIN
   * arrives here before its own side sees the close, so in-process calls, which the client's
   * code may make as soon as its end() resolves, wait for the reset (EngineThread.holdFor).
   */
  private departing(client: Client): void {
    if (this.active !== client || client.leaving) return;
    client.leaving = true;
    this.work = this.work.then(() => this.leave(client));
    this.db.holdFor(this.work);
  }

  /**
   * The session outlives the client: end an extended-protocol error state it left, roll back its
   * transaction and discard its settings, so the next client (or in-process caller) starts clean.
   */
  private async resetSession(): Promise<void> {
    if (this.failure) return;
    // Raw messages: in-process calls wait for this reset, so it must not wait for them.
    // This build's default search_path is pg_catalog; PGlite sets public when it opens.
    await this.db.execProtocolRaw([SYNC, ...RESET.map((sql) => frontendMessage('Q', `${sql}\0`))]).catch(() => {
      // failed() decides whether the engine is gone.
    });
  }

  private async leave(client: Client): Promise<void> {
    if (this.active !== client) return;
    if (!client.reset) await this.resetSession();
    this.active = undefined;
    const next = this.waiting.shift();
    if (next) this.grant(next);
  }
}
