/** What went wrong, as a machine-readable code; the message is for the person reading it. */
export type OpsErrorCode =
  | 'CONFIG' // bad flags, environment or settings: exit 2
  | 'USAGE' // a command used wrongly: exit 2
  | 'CONNECT' // host unreachable, timeout
  | 'AUTH' // wrong password or role
  | 'EXTENSION' // TimescaleDB missing or of the wrong version
  | 'EDITION' // Apache edition where the community edition is needed
  | 'DRIFT' // an applied migration file changed
  | 'ORDER' // a new migration numbered below the applied head
  | 'MIGRATION' // a migration failed
  | 'LOCK_HELD' // another run holds the lock
  | 'TOOL' // pg_dump/pg_restore/docker missing, of the wrong version, or failed
  | 'BACKUP'
  | 'RESTORE'
  | 'VERIFY'
  | 'NOT_FOUND'
  | 'ENGINE' // embedded engine problems (data directory, port)
  | 'ABORTED'; // interrupted by a signal

const USAGE_CODES: ReadonlySet<OpsErrorCode> = new Set(['CONFIG', 'USAGE']);

/** The one error class operators see: `.message` is a complete one-line explanation with the fix. */
export class OpsError extends Error {
  readonly code: OpsErrorCode;
  readonly details?: unknown;

  constructor(code: OpsErrorCode, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OpsError';
    this.code = code;
    this.details = options?.details;
  }

  /** 2 for bad usage or configuration, 1 for operational failures (DESIGN section 6). */
  get exitCode(): 1 | 2 {
    return USAGE_CODES.has(this.code) ? 2 : 1;
  }
}

export function isOpsError(error: unknown): error is OpsError {
  return error instanceof OpsError;
}
