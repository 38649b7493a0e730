import { openTarget, type ConnectionInfo, type Target } from '../../ops/lib/index.js';

/**
 * The server target for a connection a suite made (a native cluster's), as the CLI opens it for
 * DATABASE_URL. Nothing is held open: closing it is optional.
 */
export function serverTargetOf(connection: ConnectionInfo, pgBinDir?: string): Promise<Target> {
  return openTarget({ kind: 'server', connection }, { command: 'test', ...(pgBinDir ? { pgBinDir } : {}) });
}
