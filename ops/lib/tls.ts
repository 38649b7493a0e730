import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { OpsError } from './errors.js';

/*
 * libpq's meaning of sslmode, sslrootcert, sslcert and sslkey (PostgreSQL 15, "SSL Support"), for
 * node-postgres, so a DATABASE_URL means the same to our connections as to pg_dump and psql:
 *
 *   disable      plain only
 *   allow        plain; if the server refuses it, TLS (no certificate checks)
 *   prefer       TLS; if the server has none or refuses it, plain (libpq's default)
 *   require      TLS, certificate unchecked, unless a root certificate file exists: then as verify-ca
 *   verify-ca    TLS, the server's certificate must chain to sslrootcert (the file must exist)
 *   verify-full  as verify-ca, and the certificate must name the host we connect to
 *
 * sslrootcert defaults to ~/.postgresql/root.crt; sslcert and sslkey to ~/.postgresql/postgresql.crt
 * and .key. A client certificate file that does not exist is skipped (the server may not need
 * one); a key readable by others is refused, as libpq does. sslrootcert=system (libpq 16) means
 * the system's CAs and requires verify-full.
 */

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** The TLS settings of a connection, as given in a URL or the libpq environment. */
export interface TlsSettings {
  sslmode?: string;
  sslrootcert?: string;
  sslcert?: string;
  sslkey?: string;
}

/** One connection attempt: plain (false) or TLS with these options, and what it was for. */
export interface TlsAttempt {
  ssl: false | ConnectionOptions;
  /** Whether a failure of this attempt may be followed by the next (libpq's allow/prefer retry). */
  fallBack: boolean;
}

export function isSslMode(value: string): value is SslMode {
  return (SSL_MODES as readonly string[]).includes(value);
}

const defaultFile = (name: string) => join(homedir(), '.postgresql', name);
const exists = (path: string) => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new OpsError('CONFIG', `cannot read the ${what} "${path}" (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): fix the path in DATABASE_URL or its permissions`, { cause: error });
  }
}

/** libpq refuses a private key others may read: 0600 if it is ours, 0640 if root's. */
function readPrivateKey(path: string): Buffer {
  let s;
  try {
    s = statSync(path);
  } catch {
    throw new OpsError('CONFIG', `certificate present, but not private key file "${path}": set sslkey in DATABASE_URL to the client certificate's key`);
  }
  if (!s.isFile()) throw new OpsError('CONFIG', `private key file "${path}" is not a regular file: set sslkey to the key file`);
  const mine = s.uid === (process.geteuid?.() ?? -1);
  if ((mine && (s.mode & 0o077) !== 0) || (s.uid === 0 && (s.mode & 0o037) !== 0)) {
    throw new OpsError('CONFIG', `private key file "${path}" has group or world access (mode ${(s.mode & 0o777).toString(8)}): run chmod 600 '${path}' (0640 or less if root owns it), as libpq requires`);
  }
  return readPem(path, 'private key file');
}

/** The client certificate and key, when the certificate file exists. */
function clientCertificate(settings: TlsSettings): Pick<ConnectionOptions, 'cert' | 'key'> {
  const certFile = settings.sslcert || defaultFile('postgresql.crt');
  if (!exists(certFile)) return {};
  return { cert: readPem(certFile, 'client certificate file'), key: readPrivateKey(settings.sslkey || defaultFile('postgresql.key')) };
}

/** TLS options for one mode: certificate checks as libpq makes them. */
function tlsOptions(mode: Exclude<SslMode, 'disable'>, settings: TlsSettings): ConnectionOptions {
  const client = clientCertificate(settings);
  if (settings.sslrootcert === 'system') {
    if (mode !== 'verify-full') throw new OpsError('CONFIG', `sslrootcert=system needs sslmode=verify-full (anyone can get a publicly trusted certificate for a host they control): set sslmode=verify-full`);
    return { ...client, rejectUnauthorized: true };
  }
  const rootFile = settings.sslrootcert || defaultFile('root.crt');
  const haveRoot = exists(rootFile);
  if (!haveRoot && (mode === 'verify-ca' || mode === 'verify-full')) {
    throw new OpsError('CONFIG', `sslmode=${mode} needs the CA's certificate, but the root certificate file "${rootFile}" does not exist: set sslrootcert=FILE in DATABASE_URL, or use sslmode=require to skip checking the server's certificate`);
  }
  // libpq checks the chain whenever a root certificate file exists, whatever the mode.
  if (!haveRoot) return { ...client, rejectUnauthorized: false };
  return {
    ...client,
    ca: readPem(rootFile, 'root certificate file'),
    rejectUnauthorized: true,
    // Only verify-full compares the host name with the certificate.
    ...(mode === 'verify-full' ? {} : { checkServerIdentity: () => undefined }),
  };
}

/**
 * The connection attempts libpq makes for these settings, in order: each is tried only when the
 * one before failed and allowed a fallback. Throws OpsError CONFIG for an unknown sslmode, a
 * missing root certificate under verify-ca/verify-full, or a private key others can read.
 */
export function tlsAttempts(settings: TlsSettings): TlsAttempt[] {
  const mode = settings.sslmode ?? 'prefer';
  if (!isSslMode(mode)) throw new OpsError('CONFIG', `sslmode "${mode}" is not one of ${SSL_MODES.join(', ')} (libpq's values): fix sslmode in DATABASE_URL`);
  switch (mode) {
    case 'disable':
      return [{ ssl: false, fallBack: false }];
    case 'allow':
      return [{ ssl: false, fallBack: true }, { ssl: tlsOptions('allow', settings), fallBack: false }];
    case 'prefer':
      return [{ ssl: tlsOptions('prefer', settings), fallBack: true }, { ssl: false, fallBack: false }];
    default:
      return [{ ssl: tlsOptions(mode, settings), fallBack: false }];
  }
}

/** The libpq environment for these settings (for pg_dump, pg_restore and psql). */
export function tlsEnv(settings: TlsSettings): Record<string, string> {
  return {
    ...(settings.sslmode ? { PGSSLMODE: settings.sslmode } : {}),
    ...(settings.sslrootcert ? { PGSSLROOTCERT: settings.sslrootcert } : {}),
    ...(settings.sslcert ? { PGSSLCERT: settings.sslcert } : {}),
    ...(settings.sslkey ? { PGSSLKEY: settings.sslkey } : {}),
  };
}

/** Node's codes for a certificate that does not chain to a trusted CA. */
const UNTRUSTED = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED']);

/** A TLS failure as one line that says what to check, or undefined when it is not one. */
export function describeTlsFailure(error: unknown, where: string, settings: TlsSettings): string | undefined {
  const e = error as { code?: string; message?: string };
  const mode = settings.sslmode ?? 'prefer';
  if (e.message === 'The server does not support SSL connections') {
    return `the server at ${where} does not offer SSL, but sslmode=${mode} requires it: turn ssl on in the server's postgresql.conf, or use sslmode=prefer`;
  }
  if (e.code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `the server's certificate at ${where} does not name the host we connected to (sslmode=verify-full: ${e.message}): connect with a host name the certificate names, or use sslmode=verify-ca`;
  }
  if (e.code === 'CERT_HAS_EXPIRED' || e.code === 'CERT_NOT_YET_VALID') {
    return `the server's certificate at ${where} is not valid now (${e.code}): renew it on the server`;
  }
  if (e.code && UNTRUSTED.has(e.code)) {
    const root = settings.sslrootcert || defaultFile('root.crt');
    return `the server's certificate at ${where} is not signed by the CA in "${root}" (${e.code}): check sslrootcert, and that this is the server you meant`;
  }
  if (/^ERR_SSL_|^ERR_TLS_|EPROTO/.test(e.code ?? '')) return `the TLS handshake with ${where} failed (${e.code}: ${e.message}): check the server's SSL settings and sslmode`;
  return undefined;
}
