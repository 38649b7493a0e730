import { quoteIdent } from '../pg.js';
import type { SqlClient } from './sqlClient.js';

/** Role names pg_dump may write that are not roles of their own. */
const NOT_ROLES = new Set(['PUBLIC', 'CURRENT_USER', 'SESSION_USER', 'CURRENT_ROLE']);
const IDENT = String.raw`("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const PATTERNS = [
  new RegExp(String.raw`^ALTER .* OWNER TO ${IDENT};$`),
  new RegExp(String.raw`^GRANT .* TO ${IDENT}(?: WITH GRANT OPTION)?;$`),
  new RegExp(String.raw`^REVOKE .* FROM ${IDENT}(?: CASCADE)?;$`),
  new RegExp(String.raw`^ALTER DEFAULT PRIVILEGES FOR ROLE ${IDENT} `),
];

const unquote = (ident: string) => (ident.startsWith('"') ? ident.slice(1, -1).replace(/""/g, '"') : ident);

/**
 * The roles a schema dump (pg_dump's SQL) refers to as owners and grantees. pg_dump writes each of
 * these statements on a line of its own; rows are INSERT or COPY lines and never match.
 */
export function rolesInSql(sql: string): string[] {
  const roles = new Set<string>();
  for (const line of sql.split('\n')) {
    if (!/^(ALTER|GRANT|REVOKE) /.test(line)) continue;
    for (const pattern of PATTERNS) {
      const match = pattern.exec(line);
      if (match && !NOT_ROLES.has(match[1]!)) roles.add(unquote(match[1]!));
    }
  }
  return [...roles].sort();
}

/** The roles of `wanted` that the cluster `client` reaches does not have. */
export async function missingRoles(client: SqlClient, wanted: readonly string[]): Promise<string[]> {
  if (wanted.length === 0) return [];
  const { rows } = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])', [wanted]);
  const present = new Set(rows.map((r) => r.rolname));
  return wanted.filter((role) => !present.has(role));
}

/** CREATE ROLE … NOLOGIN for each: what the migrations create (group roles without a password). */
export function createRoleStatements(roles: readonly string[]): string[] {
  return roles.map((role) => `CREATE ROLE ${quoteIdent(role)} NOLOGIN;`);
}
