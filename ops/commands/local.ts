import { Command, InvalidArgumentError } from 'commander';
import { OpsError, prepareClusterTemplate, embeddedStatus, serveEmbedded, stopEmbedded, migrationStatus, openTarget, targetTraits, DEFAULT_SERVE_PORT, type TargetSpec } from '../lib/index.js';
import { output, settingsFrom, type GlobalOptions } from './context.js';

/** The configured target, which must be one this program opens in-process, and its data directory. */
function inProcessTarget(options: GlobalOptions): { spec: TargetSpec; dataDir: string } {
  const spec = settingsFrom(options).target;
  const dataDir = targetTraits(spec).inProcessDataDir;
  if (dataDir === undefined) throw new OpsError('CONFIG', '`local` commands work on the embedded database: unset DATABASE_URL / AETHERLENS_DB_CONTAINER');
  return { spec, dataDir };
}

function embeddedDirOf(options: GlobalOptions): string {
  return inProcessTarget(options).dataDir;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError('--port takes a number from 1 to 65535');
  return port;
}

const serve = new Command('serve')
  .description('keep the embedded database up on 127.0.0.1 (password required), for psql and the other commands')
  .option('--embedded-dir <dir>', 'data directory (or AETHERLENS_EMBEDDED_DIR)')
  .option('--port <port>', `port on 127.0.0.1 (default ${DEFAULT_SERVE_PORT})`, parsePort)
  .action(async (options: GlobalOptions & { port?: number }) => {
    const served = await serveEmbedded({ dataDir: embeddedDirOf(options), ...(options.port ? { port: options.port } : {}) });
    process.stdout.write([
      `embedded TimescaleDB serving ${served.engine.dataDir} on 127.0.0.1:${served.engine.info.port} (one connection at a time)`,
      `connect: ${served.psql}`,
      `password: in ${served.passwordFile} (user postgres; only you can read it): ${served.psqlWithPassword}`,
      'stop: Ctrl-C or aetherlens-db local stop',
    ].join('\n') + '\n');
    // A clean shutdown closes the engine so the data directory is consistent on the next open.
    // `on`, not `once`: signal-exit (under proper-lockfile) re-raises a signal nobody else
    // listens to any more, which would kill the process before the engine is closed.
    const signal = await new Promise<string>((resolve) => {
      process.on('SIGINT', () => resolve('SIGINT'));
      process.on('SIGTERM', () => resolve('SIGTERM'));
    });
    await served.stop();
    process.stderr.write(`stopped on ${signal}\n`);
  });

const status = new Command('status')
  .description('whether the embedded database is up, where, its size and migration head')
  .option('--embedded-dir <dir>', 'data directory (or AETHERLENS_EMBEDDED_DIR)')
  .option('--json', 'print as JSON')
  .action(async (options: GlobalOptions) => {
    const { spec, dataDir } = inProcessTarget(options);
    const state = await embeddedStatus(dataDir);
    let head: number | null = null;
    if (state.running || state.exists) {
      const target = await openTarget(spec, { command: 'local status' });
      try {
        head = (await migrationStatus({ target })).head;
      } finally {
        await target.close();
      }
    }
    output(options, { ...state, head }, (s) =>
      [
        s.running ? `up: pid ${s.owner?.pid} serves 127.0.0.1:${String(s.owner?.port)} since ${s.owner?.since}` : 'down',
        `data: ${s.dataDir} (${(s.sizeBytes / 1024 / 1024).toFixed(1)} MiB)`,
        s.passwordFile ? `password: in ${s.passwordFile} (user postgres; for psql: ${s.passwordEnv} psql ...)` : 'password: made when local serve first starts',
        `migration head: ${s.head ?? 'none'}`,
      ].join('\n'));
  });

const stop = new Command('stop')
  .description('stop a running `local serve` cleanly')
  .option('--embedded-dir <dir>', 'data directory (or AETHERLENS_EMBEDDED_DIR)')
  .action(async (options: GlobalOptions) => {
    const owner = await stopEmbedded(embeddedDirOf(options));
    process.stdout.write(owner ? `stopped pid ${owner.pid}\n` : 'not running\n');
  });

const prepare = new Command('prepare')
  .description("make the embedded engine's cluster template now (npm install runs this), so a first quickstart skips initdb")
  .action(async () => {
    const started = Date.now();
    const { template, path } = await prepareClusterTemplate();
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    process.stdout.write({
      made: `made the embedded cluster template ${path} in ${seconds} s\n`,
      present: `the embedded cluster template is already there: ${path}\n`,
      unwritable: `could not write the embedded cluster template to ${path}: new embedded databases will run initdb (about 2 s more each)\n`,
    }[template]);
  });

export const localCommand = new Command('local')
  .description('the embedded database: serve, status, stop, prepare')
  .addCommand(serve)
  .addCommand(status)
  .addCommand(stop)
  .addCommand(prepare);
