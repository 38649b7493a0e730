import { describeConnection, type ConnectionInfo } from '../connection.js';
import type { Target } from './types.js';

/** Any PostgreSQL >= 15 with TimescaleDB, reached with DATABASE_URL; tools run on the host. */
export function serverTarget(connection: ConnectionInfo): Target {
  return { kind: 'server', label: describeConnection(connection), connection, close: async () => {} };
}
