/**
 * The parts of the PostgreSQL wire protocol (3.0) the embedded server reads and writes itself:
 * framing with bounded lengths, the startup packet, and the few messages it answers on its own.
 */

/** Protocol codes a client may send instead of a startup message. */
export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 3;

/** PostgreSQL's own limit on a startup packet (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_BYTES = 10_000;
/** PostgreSQL's limit for messages that carry no SQL or data (PQ_SMALL_MESSAGE_LIMIT). */
export const MAX_SMALL_MESSAGE_BYTES = 10_000;
/** Our limit for a message with SQL or data (PostgreSQL allows 1 GB; this engine holds it twice). */
export const MAX_MESSAGE_BYTES = 128 * 1024 * 1024;

/** Messages that may carry SQL text or data, and so may be large. */
const LARGE_TYPES = new Set(['Q', 'P', 'B', 'F', 'd'].map((c) => c.charCodeAt(0)));

/** A client broke the protocol: it gets a FATAL error with this message and is closed. */
export class ProtocolViolation extends Error {
  constructor(message: string, readonly code = '08P01') {
    super(message);
  }
}

export type FramedKind = 'startup' | 'ssl' | 'cancel' | 'message';

/**
 * Splits a byte stream into whole protocol messages. TCP delivers chunks of any size; the engine
 * must see each message whole (pglite-socket 0.0.20 forwarded raw chunks, and a message over
 * ~64 KB arrived split and crashed the engine). Every length is checked as soon as its header is
 * in, so a client can make us hold at most one message of the allowed size.
 */
export class MessageFramer {
  private chunks: Buffer[] = [];
  private length = 0;
  private started = false;
  /** Large messages only from a client that has logged in: before that, nobody makes us hold 128 MB. */
  private largeAllowed: boolean;

  constructor(private readonly maxMessageBytes = MAX_MESSAGE_BYTES, options: { authenticated?: boolean } = {}) {
    this.largeAllowed = options.authenticated ?? true;
  }

  /** From now on, messages with SQL or data may be up to the large limit. */
  allowLarge(): void {
    this.largeAllowed = true;
  }

  /** Bytes held for a message not yet complete. */
  get buffered(): number {
    return this.length;
  }

  /** Bytes the next message needs in all, once its header is in; undefined before that. */
  private needed(): number | undefined {
    const headerBytes = this.started ? 5 : 8;
    if (this.length < headerBytes) return undefined;
    if (this.chunks[0]!.length < headerBytes) this.flatten();
    const head = this.chunks[0]!;
    if (!this.started) {
      const length = head.readUInt32BE(0);
      if (length < 8 || length > MAX_STARTUP_BYTES) throw new ProtocolViolation(`invalid length of startup packet (${length} bytes)`);
      return length;
    }
    const type = head[0]!;
    const length = head.readUInt32BE(1);
    const limit = this.largeAllowed && LARGE_TYPES.has(type) ? this.maxMessageBytes : MAX_SMALL_MESSAGE_BYTES;
    if (length < 4) throw new ProtocolViolation(`invalid message length ${length}`);
    if (length > limit) throw new ProtocolViolation(`message of ${length} bytes exceeds the embedded server's limit of ${limit} bytes`, '54000');
    return 1 + length;
  }

  private flatten(): void {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.length)];
  }

  /** Adds bytes; returns the complete messages now available, in order. Throws ProtocolViolation. */
  push(chunk: Buffer): { kind: FramedKind; bytes: Buffer }[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.length += chunk.length;
    }
    const out: { kind: FramedKind; bytes: Buffer }[] = [];
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
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        if (need !== 8) throw new ProtocolViolation('invalid length of encryption request packet');
        out.push({ kind: 'ssl', bytes });
      } else if (code === CANCEL_REQUEST) {
        if (need !== 16) throw new ProtocolViolation('invalid length of cancel request packet');
        out.push({ kind: 'cancel', bytes });
      } else {
        this.started = true;
        out.push({ kind: 'startup', bytes });
      }
    }
    return out;
  }
}

export interface StartupPacket {
  minor: number;
  parameters: Map<string, string>;
}

/** Reads a startup packet: protocol 3.x and NUL-terminated name/value pairs, then a final NUL. */
export function parseStartup(bytes: Buffer): StartupPacket {
  const version = bytes.readUInt32BE(4);
  const major = version >>> 16;
  if (major !== PROTOCOL_3) throw new ProtocolViolation(`unsupported frontend protocol ${major}.${version & 0xffff}: the embedded server speaks 3.0`, '0A000');
  const parameters = new Map<string, string>();
  let at = 8;
  for (;;) {
    const nameEnd = bytes.indexOf(0, at);
    if (nameEnd < 0) throw new ProtocolViolation('invalid startup packet layout: expected terminator as last byte');
    if (nameEnd === at) {
      if (nameEnd !== bytes.length - 1) throw new ProtocolViolation('invalid startup packet layout: expected terminator as last byte');
      break;
    }
    const valueEnd = bytes.indexOf(0, nameEnd + 1);
    if (valueEnd < 0) throw new ProtocolViolation('invalid startup packet layout: expected terminator as last byte');
    parameters.set(bytes.toString('utf8', at, nameEnd), bytes.toString('utf8', nameEnd + 1, valueEnd));
    at = valueEnd + 1;
  }
  return { minor: version & 0xffff, parameters };
}

/** One backend message: a type byte, the length, the body. */
export function backendMessage(type: string, body: Buffer): Buffer {
  const header = Buffer.allocUnsafe(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

/** An ErrorResponse; FATAL ones are written just before we close the socket. */
export function errorResponse(code: string, message: string, severity: 'ERROR' | 'FATAL' = 'FATAL'): Buffer {
  return backendMessage('E', Buffer.from(`S${severity}\0V${severity}\0C${code}\0M${message}\0\0`, 'utf8'));
}

/** Transaction status bytes of ReadyForQuery: idle. */
export const IDLE = 0x49;

export function readyForQuery(status: number): Buffer {
  return Buffer.from([0x5a, 0, 0, 0, 5, status]);
}

/** An Authentication message: 'R', a code, and its data. */
export function authentication(code: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const body = Buffer.allocUnsafe(4 + data.length);
  body.writeInt32BE(code, 0);
  data.copy(body, 4);
  return backendMessage('R', body);
}

export function backendKeyData(pid: number, secret: number): Buffer {
  const body = Buffer.allocUnsafe(8);
  body.writeInt32BE(pid, 0);
  body.writeInt32BE(secret, 4);
  return backendMessage('K', body);
}

/** NegotiateProtocolVersion: we speak 3.0 and none of the `_pq_.` options the client asked for. */
export function negotiateProtocolVersion(options: string[]): Buffer {
  const count = Buffer.allocUnsafe(8);
  count.writeInt32BE(0, 0);
  count.writeInt32BE(options.length, 4);
  return backendMessage('v', Buffer.concat([count, ...options.map((o) => Buffer.from(`${o}\0`, 'utf8'))]));
}

/** A startup packet as the engine expects it (it ignores the parameters, but needs one). */
export function startupPacket(parameters: Record<string, string>): Buffer {
  const pairs = Buffer.from(`${Object.entries(parameters).map(([k, v]) => `${k}\0${v}\0`).join('')}\0`, 'utf8');
  const header = Buffer.allocUnsafe(8);
  header.writeInt32BE(8 + pairs.length, 0);
  header.writeInt32BE(PROTOCOL_3 << 16, 4);
  return Buffer.concat([header, pairs]);
}

/** A frontend message, for the few we hand the engine ourselves. */
export function frontendMessage(type: string, body: Buffer | string = ''): Buffer {
  return backendMessage(type, typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
}

/** Calls `visit` for each message of a reply: its type byte and where its body is. */
export function forEachMessage(reply: Uint8Array, visit: (type: number, start: number, end: number) => void): void {
  const view = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
  for (let at = 0; at + 5 <= reply.length;) {
    const length = view.getInt32(at + 1);
    if (length < 4) break;
    visit(reply[at]!, at + 5, Math.min(at + 1 + length, reply.length));
    at += 1 + length;
  }
}

/** The transaction status of the last ReadyForQuery in a reply, or `current` if it has none. */
export function transactionStatus(reply: Uint8Array, current: number): number {
  let status = current;
  forEachMessage(reply, (type, start, end) => {
    if (type === 0x5a && end > start) status = reply[start]!;
  });
  return status;
}

/** The NUL-terminated string at `from`, or undefined if the message has no terminator there. */
export function cString(bytes: Buffer, from: number): { text: string; end: number } | undefined {
  const end = bytes.indexOf(0, from);
  return end < 0 ? undefined : { text: bytes.toString('utf8', from, end), end };
}
