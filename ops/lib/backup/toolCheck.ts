import { OpsError } from '../errors.js';
import { parsePgVersion } from '../targets/pgVersion.js';
import type { ToolVersion } from '../targets/types.js';

function fixFor(tool: ToolVersion, major: number, minimum: string): string {
  switch (tool.origin) {
    case 'host':
      return `install PostgreSQL ${major}'s client tools (${minimum} or newer; Debian: postgresql-client-${major}) and set PG_BIN_DIR to their bin directory (e.g. /usr/lib/postgresql/${major}/bin)`;
    case 'container':
      return `run an image whose client tools are PostgreSQL ${major}, ${minimum} or newer (the stack's image ships matching tools)`;
    case 'in-process':
      return 'use the aetherlens-db version that created this embedded database';
  }
}

/**
 * Refuses, before anything is dumped, a pg_dump of another major version than the server or older
 * than it: such dumps fail or lose objects, and people find out at restore time.
 */
export function assertDumpToolFits(tool: ToolVersion, serverVersion: string): void {
  const server = parsePgVersion(`PostgreSQL ${serverVersion}`);
  const client = parsePgVersion(`PostgreSQL ${tool.version}`);
  if (!server || !client) {
    throw new OpsError('TOOL', `cannot compare pg_dump ${tool.version} (${tool.where}) with server version ${serverVersion}: check PG_BIN_DIR`);
  }
  if (client.major !== server.major) {
    throw new OpsError('TOOL', `pg_dump ${client.version} (${tool.where}) cannot back up this PostgreSQL ${server.version} server: it must be the same major version; ${fixFor(tool, server.major, server.version)}`);
  }
  if (client.minor < server.minor) {
    throw new OpsError('TOOL', `pg_dump ${client.version} (${tool.where}) is older than this PostgreSQL ${server.version} server; ${fixFor(tool, server.major, server.version)}`);
  }
}
