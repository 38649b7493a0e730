import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * SCRAM-SHA-256 on the server side (RFC 5802 and 7677, as PostgreSQL runs it): the client proves
 * it knows the password without sending it, and checks that the server knows it too.
 */

/** PostgreSQL's default scram_iterations. */
export const SCRAM_ITERATIONS = 4096;
export const SCRAM_MECHANISM = 'SCRAM-SHA-256';

/** What the server keeps instead of the password (PostgreSQL's pg_authid verifier). */
export interface ScramVerifier {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

const hmac = (key: Buffer, text: string | Buffer) => createHmac('sha256', key).update(text).digest();

/**
 * The verifier of a password; a new salt each time. The password is normalized with NFKC, the
 * part of SASLprep that changes printable passwords (what libpq and pg do on their side).
 */
export function scramVerifier(password: string, iterations = SCRAM_ITERATIONS): ScramVerifier {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  return {
    salt,
    iterations,
    storedKey: createHash('sha256').update(hmac(salted, 'Client Key')).digest(),
    serverKey: hmac(salted, 'Server Key'),
  };
}

/** A client message that is not SCRAM as RFC 5802 writes it. */
export class ScramError extends Error {}

/** The attributes of a SCRAM message (`a=...,b=...`), in order. */
function attributes(text: string): [string, string][] {
  return text.split(',').map((part) => {
    if (!/^[a-zA-Z]=/.test(part)) throw new ScramError(`malformed SCRAM message (attribute "${part.slice(0, 20)}")`);
    return [part[0]!, part.slice(2)];
  });
}

/** One authentication exchange: client-first → server-first, client-final → server-final. */
export class ScramExchange {
  private gs2Header = '';
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';

  constructor(private readonly verifier: ScramVerifier) {}

  /** Reads the client-first-message; returns the server-first-message. */
  first(clientFirst: string): string {
    // gs2-header: n (no channel binding) or y (client could, thinks we cannot); no authzid.
    const match = /^([ny]),,(.*)$/s.exec(clientFirst);
    if (!match) {
      if (clientFirst.startsWith('p=')) throw new ScramError('channel binding is not supported: the embedded server has no TLS');
      throw new ScramError('malformed SCRAM message (gs2 header)');
    }
    this.gs2Header = `${match[1]},,`;
    this.clientFirstBare = match[2]!;
    const attrs = attributes(this.clientFirstBare);
    // PostgreSQL ignores the SCRAM user name (n=) and uses the startup packet's user.
    if (attrs[0]?.[0] !== 'n' || attrs[1]?.[0] !== 'r') throw new ScramError('malformed SCRAM message (expected n= and r=)');
    if (attrs.some(([k]) => k === 'm')) throw new ScramError('SCRAM extensions (m=) are not supported');
    const clientNonce = attrs[1][1];
    if (!/^[\x21-\x2b\x2d-\x7e]+$/.test(clientNonce)) throw new ScramError('malformed SCRAM message (client nonce)');
    this.nonce = clientNonce + randomBytes(18).toString('base64');
    this.serverFirst = `r=${this.nonce},s=${this.verifier.salt.toString('base64')},i=${this.verifier.iterations}`;
    return this.serverFirst;
  }

  /** Reads the client-final-message; returns the server-final-message, or undefined for a wrong password. */
  final(clientFinal: string): string | undefined {
    const proofAt = clientFinal.lastIndexOf(',p=');
    if (proofAt < 0 || this.nonce === '') throw new ScramError('malformed SCRAM message (no proof)');
    const withoutProof = clientFinal.slice(0, proofAt);
    const attrs = attributes(withoutProof);
    if (attrs[0]?.[0] !== 'c' || attrs[1]?.[0] !== 'r') throw new ScramError('malformed SCRAM message (expected c= and r=)');
    if (attrs[0][1] !== Buffer.from(this.gs2Header).toString('base64')) throw new ScramError('SCRAM channel binding check failed');
    if (attrs[1][1] !== this.nonce) throw new ScramError('SCRAM nonce does not match');
    const proof = Buffer.from(clientFinal.slice(proofAt + 3), 'base64');
    if (proof.length !== 32) throw new ScramError('malformed SCRAM message (proof)');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const signature = hmac(this.verifier.storedKey, authMessage);
    const clientKey = Buffer.from(proof.map((byte, i) => byte ^ signature[i]!));
    const stored = createHash('sha256').update(clientKey).digest();
    if (!timingSafeEqual(stored, this.verifier.storedKey)) return undefined;
    return `v=${hmac(this.verifier.serverKey, authMessage).toString('base64')}`;
  }
}
