import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';

/** Where a server listens: TCP, or a socket directory as libpq takes it (host = directory). */
export interface Endpoint {
  host: string;
  port: number;
}

export function message(type: string, body: Buffer | string = ''): Buffer {
  const data = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(data.length + 4, 1);
  return Buffer.concat([header, data]);
}

export function startupMessage(parameters: Record<string, string> = { user: 'postgres', database: 'template1' }): Buffer {
  const pairs = Buffer.from(`${Object.entries(parameters).map(([k, v]) => `${k}\0${v}\0`).join('')}\0`);
  const header = Buffer.alloc(8);
  header.writeInt32BE(8 + pairs.length, 0);
  header.writeInt32BE(196608, 4);
  return Buffer.concat([header, pairs]);
}

/** Opens a socket to the endpoint; resolves once connected. */
export async function openSocket(endpoint: Endpoint): Promise<Socket> {
  const socket = endpoint.host.startsWith('/') ? connect(join(endpoint.host, `.s.PGSQL.${endpoint.port}`)) : connect(endpoint.port, endpoint.host);
  await new Promise<void>((ok, fail) => socket.once('connect', ok).once('error', fail));
  return socket;
}

/** Reads backend messages off a socket, one at a time. */
export class Reader {
  private pending = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  closed = false;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on('error', () => {});
  }

  /** The next message, or undefined once the server has closed and nothing is left. */
  async next(): Promise<{ type: string; body: Buffer } | undefined> {
    for (;;) {
      if (this.pending.length >= 5 && this.pending.length >= 1 + this.pending.readInt32BE(1)) {
        const length = this.pending.readInt32BE(1);
        const out = { type: String.fromCharCode(this.pending[0]!), body: this.pending.subarray(5, 1 + length) };
        this.pending = this.pending.subarray(1 + length);
        return out;
      }
      if (this.closed) return undefined;
      await new Promise<void>((ok) => (this.waiter = ok));
    }
  }

  /** Messages up to and including the next ReadyForQuery: their types and its status. */
  async untilReady(): Promise<{ types: string[]; status: string; errors: string[] }> {
    const types: string[] = [];
    const errors: string[] = [];
    for (;;) {
      const m = await this.next();
      if (!m) throw new Error(`the server closed the connection after ${types.join(' ')} ${errors.join('; ')}`);
      types.push(m.type);
      if (m.type === 'E') errors.push(errorFields(m.body).M ?? '');
      if (m.type === 'Z') return { types, status: String.fromCharCode(m.body[0]!), errors };
    }
  }
}

/** The fields of an ErrorResponse body, by their one-letter codes. */
export function errorFields(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const field of body.toString('utf8').split('\0')) if (field) out[field[0]!] = field.slice(1);
  return out;
}

const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();

/** SCRAM-SHA-256 from the client's side, as libpq and pg do it. */
export async function scramLogin(socket: Socket, reader: Reader, password: string): Promise<void> {
  const first = await reader.next();
  if (first?.type !== 'R' || first.body.readInt32BE(0) !== 10) throw new Error(`expected AuthenticationSASL, got ${first?.type}`);
  const nonce = randomBytes(18).toString('base64');
  const bare = `n=*,r=${nonce}`;
  const initial = Buffer.from(`n,,${bare}`);
  const length = Buffer.alloc(4);
  length.writeInt32BE(initial.length);
  socket.write(message('p', Buffer.concat([Buffer.from('SCRAM-SHA-256\0'), length, initial])));
  const cont = await reader.next();
  if (cont?.type !== 'R' || cont.body.readInt32BE(0) !== 11) throw new Error(`expected SASLContinue, got ${cont?.type} ${cont ? errorFields(cont.body).M : ''}`);
  const serverFirst = cont.body.toString('utf8', 4);
  const attrs = Object.fromEntries(serverFirst.split(',').map((p) => [p[0], p.slice(2)]));
  const salted = pbkdf2Sync(password, Buffer.from(attrs.s!, 'base64'), Number(attrs.i), 32, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  const storedKey = createHash('sha256').update(clientKey).digest();
  const withoutProof = `c=biws,r=${attrs.r}`;
  const signature = hmac(storedKey, `${bare},${serverFirst},${withoutProof}`);
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!)).toString('base64');
  socket.write(message('p', `${withoutProof},p=${proof}`));
}

/** A logged-in bare protocol client: sends what it is told, reads replies to ReadyForQuery. */
export async function rawSession(endpoint: Endpoint, password: string) {
  const socket = await openSocket(endpoint);
  const reader = new Reader(socket);
  socket.write(startupMessage());
  await scramLogin(socket, reader, password);
  /** BackendKeyData: what a CancelRequest for this session carries. */
  let key = Buffer.alloc(8);
  for (let m = await reader.next(); m?.type !== 'Z'; m = await reader.next()) {
    if (!m) throw new Error('the server closed the connection during login');
    if (m.type === 'E') throw new Error(errorFields(m.body).M);
    if (m.type === 'K') key = Buffer.from(m.body);
  }
  return {
    socket,
    reader,
    /** Sends a CancelRequest for this session on a new connection. */
    async cancel() {
      const other = await openSocket(endpoint);
      const header = Buffer.alloc(8);
      header.writeInt32BE(16, 0);
      header.writeInt32BE(80877102, 4);
      other.end(Buffer.concat([header, key]));
      await new Promise((ok) => other.once('close', ok));
    },
    async query(text: string) {
      socket.write(message('Q', `${text}\0`));
      const { types, status } = await reader.untilReady();
      return { types, status };
    },
    async end() {
      socket.end(message('X'));
      if (!reader.closed) await new Promise((ok) => socket.once('close', ok));
    },
  };
}
