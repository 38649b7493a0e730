import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { execa } from 'execa';
import { describe, it } from 'vitest';
import { tuningFor } from '../../infra/tuning.js';
import type { ConnectionInfo } from '../../ops/lib/connection.js';
import { connectionUrl } from '../../ops/lib/connection.js';

/** Debian's PostgreSQL 15 binaries; scripts/install-timescaledb.sh puts TimescaleDB beside them. */
export const PG_BIN = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';

export interface NativeCluster {
  /** Superuser connection to the `aetherlens` database (created at start). */
  info: ConnectionInfo;
  url: string;
  port: number;
  dataDir: string;
  socketDir: string;
  stop(): Promise<void>;
  /** Starts the cluster again after stop() (data kept). */
  restart(): Promise<void>;
  /** Stops the postmaster at once (pg_ctl stop -m immediate). */
  kill(): Promise<void>;
}

/** Why native tests cannot run here, or undefined when they can. */
export function nativeUnavailableReason(): string | undefined {
  if (!existsSync(join(PG_BIN, 'postgres'))) return `no PostgreSQL server at ${PG_BIN} (run scripts/install-timescaledb.sh)`;
  if (!existsSync('/usr/lib/postgresql/15/lib/timescaledb.so')) return 'TimescaleDB is not installed for PostgreSQL 15 (run scripts/install-timescaledb.sh)';
  return undefined;
}

/**
 * describe() for a suite on a native cluster. Outside CI a missing PostgreSQL skips it, with the
 * reason in its name; in CI (CI=true) it fails instead, so a missing prerequisite never passes quietly.
 */
export function describeNative(name: string, body: () => void): void {
  const reason = nativeUnavailableReason();
  if (!reason) {
    describe(name, body);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('has PostgreSQL 15 with TimescaleDB', () => {
        throw new Error(`the native suites must run in CI, but: ${reason}`);
      });
    });
  } else {
    describe.skip(`${name} (skipped: ${reason})`, body);
  }
}

/**
 * Why the suites that need these TimescaleDB versions installed side by side cannot run here. In
 * CI (CI=true) a missing one is a failure, never a quiet skip: scripts/test.sh installs them.
 */
export function nativeVersionsUnavailable(versions: string[]): string | undefined {
  const missing = versions.filter((v) => !existsSync(`/usr/lib/postgresql/15/lib/timescaledb-${v}.so`));
  const reason = nativeUnavailableReason() ?? (missing.length ? `TimescaleDB ${missing.join(', ')} not installed for PostgreSQL 15 (run scripts/install-timescaledb.sh)` : undefined);
  if (reason && process.env.CI === 'true') throw new Error(`CI needs the native servers: ${reason}`);
  return reason;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** initdb refuses to run as root: when we are root, the cluster belongs to the postgres user. */
function asOwner(cmd: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

async function exec(cmd: string, args: string[], opts: { env?: Record<string, string> } = {}): Promise<string> {
  const [c, a] = asOwner(cmd, args);
  const r = await execa(c, a, { reject: false, env: opts.env, all: true });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.exitCode}): ${r.all}`);
  return r.all ?? '';
}

/**
 * A throwaway PostgreSQL 15 cluster with TimescaleDB preloaded: its own data dir, a free port,
 * the socket in a temp folder, password authentication over TCP. Always call stop().
 */
export async function startNativeCluster(options: { settings?: Record<string, string> } = {}): Promise<NativeCluster> {
  const root = await mkdtemp(join(tmpdir(), 'aetherlens-pg-'));
  await chmod(root, 0o777);
  const dataDir = join(root, 'data');
  const socketDir = root;
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const pwfile = join(root, 'pwfile');
  await writeFile(pwfile, `${password}\n`, { mode: 0o644 });
  await exec(join(PG_BIN, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
  await rm(pwfile);
  const port = await freePort();
  const settings: Record<string, string> = {
    port: String(port),
    listen_addresses: "'127.0.0.1'",
    unix_socket_directories: `'${socketDir}'`,
    shared_preload_libraries: "'timescaledb'",
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    max_connections: '50',
    // The worker counts the stack gives a 1-CPU container (infra/tuning.ts): PostgreSQL's default
    // of 8 worker processes leaves TimescaleDB's policy jobs without a slot to start in.
    'timescaledb.max_background_workers': tuningFor(512, 1)['timescaledb.max_background_workers'],
    max_worker_processes: tuningFor(512, 1).max_worker_processes,
    'timescaledb.telemetry_level': 'off',
    ...options.settings,
  };
  const conf = Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join('\n');
  const confPath = join(dataDir, 'postgresql.conf');
  await exec('sh', ['-c', `cat >> '${confPath}' <<'EOF'\n${conf}\nEOF`]);
  const pgctl = (action: string, extra: string[] = []) =>
    exec(join(PG_BIN, 'pg_ctl'), [action, '-D', dataDir, '-w', '-t', '60', '-l', join(root, 'server.log'), ...extra]);
  await pgctl('start');
  const info: ConnectionInfo = { host: '127.0.0.1', port, user: 'postgres', password, database: 'aetherlens' };
  await execa(join(PG_BIN, 'createdb'), ['aetherlens'], { env: { PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'postgres', PGPASSWORD: password } });
  let running = true;
  return {
    info,
    url: connectionUrl(info),
    port,
    dataDir,
    socketDir,
    async stop() {
      if (running) await pgctl('stop', ['-m', 'fast']).catch(() => pgctl('stop', ['-m', 'immediate']).catch(() => {}));
      running = false;
      await rm(root, { recursive: true, force: true });
    },
    async restart() {
      await pgctl('start');
      running = true;
    },
    async kill() {
      await pgctl('stop', ['-m', 'immediate']);
      running = false;
    },
  };
}
