import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { dockerInspectArgs, parseContainerInspect, remoteEngineHost } from '../../ops/lib/targets/docker/target.js';
import { dockerDumpCommand } from '../../ops/lib/targets/docker/tools.js';
import { dockerExecArgs, dockerExecFailure, EXEC_MARK_VAR, STOP_MARKED_SCRIPT, stopMarkedArgs, type ContainerNow } from '../../ops/lib/targets/docker/exec.js';

// Trimmed `docker container inspect` output for the container `pulumi up` makes.
const INSPECT = JSON.stringify([{
  State: { Status: 'running', Running: true },
  Config: { Env: ['POSTGRES_USER=aetherlens', 'POSTGRES_DB=aetherlens', 'POSTGRES_PASSWORD_FILE=/run/secrets/aetherlens-db-password', 'PATH=/usr/local/bin:/usr/bin', 'EMPTY'] },
  NetworkSettings: { Ports: { '5432/tcp': [{ HostIp: '0.0.0.0', HostPort: '15432' }, { HostIp: '::', HostPort: '15432' }] } },
}]);

describe('docker target: the exact command lines', () => {
  const connection = { host: '127.0.0.1', port: 15432, user: 'aetherlens', password: 's3cret-Passw0rd', database: 'aetherlens' };

  it('dumps with pg_dump inside the container, secrets only in the environment', () => {
    const { command, args, env } = dockerDumpCommand('aetherlens-timescaledb', connection, '00000003-0000001B-1', 1, 'run-1');
    expect(command).toBe('docker');
    expect(args).toEqual([
      'exec', '-e', 'PGUSER', '-e', 'PGDATABASE', '-e', 'PGPASSWORD', '-e', 'AETHERLENS_DB_EXEC_ID', 'aetherlens-timescaledb',
      'pg_dump', '--format=custom', '--compress=1', '--snapshot=00000003-0000001B-1', '--lock-wait-timeout=300000',
    ]);
    // `-e NAME` without a value: the docker CLI copies the value from its own environment. The
    // run's marker lets an abort find this pg_dump inside the container (docker exec forwards no signal).
    expect(env).toEqual({ PGUSER: 'aetherlens', PGDATABASE: 'aetherlens', PGPASSWORD: 's3cret-Passw0rd', AETHERLENS_DB_EXEC_ID: 'run-1' });
    expect(args.join(' ')).not.toContain('s3cret');
    // No TTY: it would mangle the binary dump on stdout.
    expect(args).not.toContain('-t');
  });

  it('passes no password variable when there is none (local trust inside the container)', () => {
    const { password: _, ...noPassword } = connection;
    const { args, env } = dockerDumpCommand('db', noPassword, 'snap', 1, 'run-2');
    expect(args.slice(0, 8)).toEqual(['exec', '-e', 'PGUSER', '-e', 'PGDATABASE', '-e', 'AETHERLENS_DB_EXEC_ID', 'db']);
    expect(env).toEqual({ PGUSER: 'aetherlens', PGDATABASE: 'aetherlens', AETHERLENS_DB_EXEC_ID: 'run-2' });
  });

  it('a database named like a connection string stays a name (environment, not --dbname)', () => {
    const { args, env } = dockerDumpCommand('db', { ...connection, database: 'host=evil dbname=x' }, 'snap', 1);
    expect(args.some((a) => a.includes('evil'))).toBe(false);
    expect(env.PGDATABASE).toBe('host=evil dbname=x');
  });

  it('asks the container for its pg_dump version and inspects it', () => {
    expect(dockerExecArgs('db', ['pg_dump', '--version'])).toEqual(['exec', 'db', 'pg_dump', '--version']);
    expect(dockerExecArgs('db', ['pg_restore', '--list'], ['PGUSER'], { interactive: true })).toEqual(['exec', '-i', '-e', 'PGUSER', 'db', 'pg_restore', '--list']);
    expect(dockerInspectArgs('db')).toEqual(['container', 'inspect', 'db']);
  });
});

describe('docker target: reading docker container inspect', () => {
  it('finds the published port, the state and the environment', () => {
    const facts = parseContainerInspect(INSPECT, 'db');
    expect(facts).toEqual({
      running: true,
      status: 'running',
      env: { POSTGRES_USER: 'aetherlens', POSTGRES_DB: 'aetherlens', POSTGRES_PASSWORD_FILE: '/run/secrets/aetherlens-db-password', PATH: '/usr/local/bin:/usr/bin', EMPTY: '' },
      published: { host: '127.0.0.1', port: 15432 },
    });
  });

  it('keeps a specific bind address and notices an unpublished port', () => {
    const bound = JSON.stringify([{ State: { Running: true }, NetworkSettings: { Ports: { '5432/tcp': [{ HostIp: '10.0.0.5', HostPort: '5433' }] } } }]);
    expect(parseContainerInspect(bound, 'db').published).toEqual({ host: '10.0.0.5', port: 5433 });
    const hidden = JSON.stringify([{ State: { Running: false, Status: 'exited' }, NetworkSettings: { Ports: { '5432/tcp': null } } }]);
    expect(parseContainerInspect(hidden, 'db')).toEqual({ running: false, status: 'exited', env: {} });
  });

  it.each([
    ['tcp://10.0.0.7:2375', '10.0.0.7'],
    ['tcp://docker.lan:2376', 'docker.lan'],
    ['ssh://ops@nas.lan', 'nas.lan'],
    ['ssh://ops@nas.lan:2222', 'nas.lan'],
    ['tcp://[fd00::7]:2375', 'fd00::7'],
  ])('DOCKER_HOST=%s: a port published on every interface is reached on %s, not on loopback', (dockerHost, host) => {
    expect(remoteEngineHost(dockerHost)).toBe(host);
    expect(parseContainerInspect(INSPECT, 'db', dockerHost).published).toEqual({ host, port: 15432 });
    const v6 = JSON.stringify([{ State: { Running: true }, NetworkSettings: { Ports: { '5432/tcp': [{ HostIp: '::', HostPort: '5433' }] } } }]);
    expect(parseContainerInspect(v6, 'db', dockerHost).published).toEqual({ host, port: 5433 });
  });

  it.each([undefined, '', 'unix:///var/run/docker.sock', 'npipe:////./pipe/docker_engine', 'fd://', 'not a url'])('a local engine (%s): loopback', (dockerHost) => {
    expect(remoteEngineHost(dockerHost)).toBeUndefined();
    expect(parseContainerInspect(INSPECT, 'db', dockerHost).published).toEqual({ host: '127.0.0.1', port: 15432 });
  });

  it('a specific bind address on a remote engine is used as it is', () => {
    const bound = JSON.stringify([{ State: { Running: true }, NetworkSettings: { Ports: { '5432/tcp': [{ HostIp: '192.168.1.20', HostPort: '5432' }] } } }]);
    expect(parseContainerInspect(bound, 'db', 'ssh://ops@nas.lan').published).toEqual({ host: '192.168.1.20', port: 5432 });
  });

  it('refuses output that is not JSON', () => {
    expect(() => parseContainerInspect('Error: something', 'db')).toThrowErrorMatchingInlineSnapshot(`[OpsError: docker container inspect db printed something that is not JSON: check the docker CLI]`);
  });
});

describe('docker exec: its own failures, one line each', () => {
  const running: ContainerNow = { state: 'running', startedAt: '2026-12-01T10:00:00Z' };
  const fail = (exitCode: number | undefined, output: string, now: ContainerNow = running, extra: { restarted?: boolean; what?: string } = {}) =>
    dockerExecFailure({ container: 'db', what: extra.what ?? 'pg_dump', exitCode, output, now, ...(extra.restarted ? { restarted: true } : {}) })?.message;

  it('leaves the program\'s own failures to its caller', () => {
    expect(fail(1, 'pg_dump: error: query failed: ERROR:  permission denied for table devices')).toBeUndefined();
    expect(fail(1, 'pg_restore: error: could not execute query: server closed the connection unexpectedly')).toBeUndefined();
  });

  it('the daemon\'s answers (exit 1 on this engine)', () => {
    expect(fail(1, 'Error response from daemon: Container 4f1c is not running', { state: 'stopped' })).toMatchInlineSnapshot(`"container "db" is not running, so pg_dump could not start in it: start it (docker start db), then run the command again"`);
    expect(fail(1, 'Error response from daemon: No such container: db', { state: 'gone' })).toMatchInlineSnapshot(`"container "db" no longer exists, so pg_dump could not run in it: create it again (pulumi up), then run the command again"`);
    expect(fail(1, 'Error response from daemon: Container 4f1c is paused, unpause the container before exec', { state: 'paused' })).toMatchInlineSnapshot(`"container "db" is paused, so pg_dump could not run in it: docker unpause db, then run the command again"`);
    expect(fail(1, 'Error response from daemon: Container 4f1c is restarting, wait until the container is running', { state: 'restarting' })).toMatchInlineSnapshot(`"container "db" is restarting (see docker logs db), so pg_dump could not finish: wait until it is healthy, then run the command again"`);
    expect(fail(1, 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?', { state: 'unknown' })).toMatchInlineSnapshot(`"cannot reach the Docker engine to run pg_dump in container "db" (Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?): start Docker or fix DOCKER_HOST, then run the command again"`);
  });

  it('the container stopped or restarted under the program, whatever it exited with', () => {
    const lost = 'pg_dump: error: query failed: FATAL:  terminating connection due to administrator command';
    expect(fail(1, lost, { state: 'stopped' })).toMatchInlineSnapshot(`"container "db" stopped while pg_dump ran: start it (docker start db), then run the command again"`);
    expect(fail(137, '', { state: 'stopped' }, { what: 'pg_restore' })).toMatchInlineSnapshot(`"container "db" stopped while pg_restore ran: start it (docker start db), then run the command again"`);
    expect(fail(1, lost, running, { restarted: true })).toMatchInlineSnapshot(`"container "db" restarted while pg_dump ran (see docker logs db): once it is healthy, then run the command again"`);
  });

  it('125, 126, 127, 137', () => {
    expect(fail(125, 'unknown flag: --bogus\n\nUsage:  docker exec [OPTIONS] CONTAINER COMMAND [ARG...]')).toMatchInlineSnapshot(`"docker exec refused to run pg_dump in container "db" (exit 125: unknown flag: --bogus): check the docker CLI and its version"`);
    expect(fail(126, 'OCI runtime exec failed: exec failed: unable to start container process: exec: "pg_dump": executable file not found in $PATH: unknown')).toMatchInlineSnapshot(`"pg_dump was not found in container "db" (exit 126: OCI runtime exec failed: exec failed: unable to start container process: exec: "pg_dump": executable file not found in $PATH: unknown): the container must run the PostgreSQL image the stack declares (its client tools on PATH)"`);
    expect(fail(126, 'OCI runtime exec failed: exec failed: unable to start container process: exec: "pg_dump": permission denied: unknown')).toMatchInlineSnapshot(`"pg_dump in container "db" could not be started (exit 126: OCI runtime exec failed: exec failed: unable to start container process: exec: "pg_dump": permission denied: unknown): the container must run the PostgreSQL image the stack declares"`);
    // The dump's stdout is the dump file: the runtime's words went there, so none to quote.
    expect(fail(126, '')).toMatchInlineSnapshot(`"pg_dump in container "db" could not be started (exit 126: it is missing or not executable there): the container must run the PostgreSQL image the stack declares"`);
    expect(fail(127, 'sh: 1: exec: pg_dump: not found', running, { what: 'sh' })).toMatchInlineSnapshot(`"sh in container "db" could not run a program it needs (exit 127: sh: 1: exec: pg_dump: not found): the container must run the PostgreSQL image the stack declares (its client tools on PATH)"`);
    expect(fail(137, '')).toMatchInlineSnapshot(`"pg_dump in container "db" was killed (SIGKILL, exit 137) while the container kept running: most likely the out-of-memory killer (raise the stack's memoryMb), or someone ran kill -9; then run the command again"`);
  });
});

describe('docker exec: stopping what a run left in the container', () => {
  it('runs the stop script in the container, the marker as its $0', () => {
    expect(stopMarkedArgs('db', 'run-1')).toEqual(['exec', 'db', 'sh', '-c', STOP_MARKED_SCRIPT, 'AETHERLENS_DB_EXEC_ID=run-1']);
  });

  /** The script scans /proc wherever it runs: here, this machine's processes. */
  const marked = (mark: string, script: string) => {
    const child = spawn('sh', ['-c', script], { env: { PATH: process.env.PATH, [EXEC_MARK_VAR]: mark }, stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    return { child, exited };
  };
  const stop = (mark: string) => new Promise<number | null>((resolve) => spawn('sh', ['-c', STOP_MARKED_SCRIPT, `${EXEC_MARK_VAR}=${mark}`], { stdio: 'ignore' }).on('exit', resolve));

  it('stops exactly the processes carrying the marker: TERM first', async () => {
    const mine = marked('run-4f0c', 'exec sleep 60');
    const other = marked('run-9d2e', 'exec sleep 60');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await stop('run-4f0c')).toBe(0);
    expect(await mine.exited).toBe('SIGTERM');
    expect(other.child.exitCode).toBeNull();
    other.child.kill();
    expect(await stop('run-0000')).toBe(0);
  });

  it('KILL for a program that ignores TERM', async () => {
    const stubborn = marked('run-7a13', `trap '' TERM; sleep 60 & wait; sleep 60`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await stop('run-7a13')).toBe(0);
    expect(await stubborn.exited).toBe('SIGKILL');
  }, 20_000);
});
