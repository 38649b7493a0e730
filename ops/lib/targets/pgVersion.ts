// The PostgreSQL version a program or server states: what tool checks compare, on every kind.

/** Parses "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)" or "PostgreSQL 17.5 on …". */
export function parsePgVersion(text: string): { version: string; major: number; minor: number } | undefined {
  const match = /(?:PostgreSQL\)?\s+)(\d+)(?:\.(\d+))?/.exec(text);
  if (!match) return undefined;
  const major = Number(match[1]);
  const minor = match[2] === undefined ? 0 : Number(match[2]);
  return { version: `${major}.${minor}`, major, minor };
}
