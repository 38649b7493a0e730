/*
 * Every secret this process learns is remembered here, by value, as it is read: the password of
 * DATABASE_URL (or --database-url) and PGPASSWORD, the admin password, the password a container
 * was initialised from (its POSTGRES_PASSWORD_FILE), the embedded server's password file, and the
 * tokens in ping and webhook URLs. redact() blanks all of them out of any text, so the loggers,
 * the error boundary and the scheduler's status file need no list of their own, and a secret that
 * turns up where nobody expected it (a server's error message, a file name) is still caught.
 */

import { SECRET_VARIABLES, type Environment } from './settings/variables.js';

const known = new Set<string>();

/** Shorter values would blank out ordinary words; nobody's password is that short by accident. */
const MIN_LENGTH = 3;
/** Path segments and query values of a URL this long are treated as tokens. */
const TOKEN_LENGTH = 16;

/** Remembers a secret (and the spellings it takes in URLs and JSON) for redact(). */
export function rememberSecret(value: string | undefined | null): void {
  if (!value || value.length < MIN_LENGTH) return;
  known.add(value);
  known.add(encodeURIComponent(value));
  known.add(JSON.stringify(value).slice(1, -1));
}

/**
 * Remembers what in a URL is secret: its password, and the path and query, which carry the
 * token of a ping or webhook URL (https://hc-ping.com/<uuid>, …/services/T0/B0/<token>).
 */
export function rememberUrlSecrets(url: string | undefined): void {
  if (!url) return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return;
  }
  rememberSecret(decodeURIComponent(parsed.password));
  if (parsed.protocol.startsWith('postgres')) return;
  rememberSecret(url);
  for (const segment of parsed.pathname.split('/')) if (segment.length >= TOKEN_LENGTH) rememberSecret(decodeURIComponent(segment));
  for (const value of parsed.searchParams.values()) if (value.length >= TOKEN_LENGTH) rememberSecret(value);
}

/** The secrets a command can find in its environment before it reads anything else (variables.ts marks them). */
export function rememberEnvironmentSecrets(env: Environment): void {
  for (const variable of SECRET_VARIABLES) {
    if (variable.secret === 'url') rememberUrlSecrets(env[variable.name]);
    else rememberSecret(env[variable.name]);
  }
}

/**
 * A JSON.stringify replacer that redacts each string value on its own: the output stays valid
 * JSON, and a secret holding a quote or backslash is found before JSON escapes it.
 */
export function redactStrings(_key: string, value: unknown): unknown {
  return typeof value === 'string' ? redact(value) : value;
}

/**
 * Removes every remembered secret (and `extra` ones) from text before it reaches a person, a log
 * or a file, and the password of anything shaped like a PostgreSQL URL.
 */
export function redact(text: string, extra: readonly (string | undefined)[] = []): string {
  // The placeholder in our own usage hints ("USER:PASSWORD@") is not a secret.
  let out = text.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)(?!PASSWORD@)[^@\s]*@/g, '$1***@');
  const secrets = [...known, ...extra.filter((s): s is string => Boolean(s) && s!.length >= MIN_LENGTH)];
  // Longest first: a secret that contains another is blanked whole.
  for (const secret of secrets.sort((a, b) => b.length - a.length)) out = out.split(secret).join('***');
  return out;
}
