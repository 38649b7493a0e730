import { describe, expect, it } from 'vitest';
import { dockerDumpCommand, dockerExecArgs, dockerInspectArgs, parseContainerInspect } from '../../ops/lib/targets/docker.js';

// Trimmed `docker container inspect` output for the container `pulumi up` makes.
const INSPECT = JSON.stringify([{
  State: { Status: 'running', Running: true },
  Config: { Env: ['POSTGRES_USER=aetherlens', 'POSTGRES_DB=aetherlens', 'POSTGRES_PASSWORD_FILE=/run/secrets/aetherlens-db-password', 'PATH=/usr/local/bin:/usr/bin', 'EMPTY'] },
  NetworkSettings: { Ports: { '5432/tcp': [{ HostIp: '0.0.0.0', HostPort: '15432' }, { HostIp: '::', HostPort: '15432' }] } },
}]);

describe('docker target: the exact command lines', () => {
  const connection = { host: '127.0.0.1', port: 15432, user: 'aetherlens', password: 's3cret-Passw0rd', database: 'aetherlens' };

  it('dumps with pg_dump inside the container, secrets only in the environment', () => {
    const { command, args, env } = dockerDumpCommand('aetherlens-timescaledb', connection, '00000003-0000001B-1', 1);
    expect(command).toBe('docker');
    expect(args).toEqual([
      'exec', '-e', 'PGUSER', '-e', 'PGDATABASE', '-e', 'PGPASSWORD', 'aetherlens-timescaledb',
      'pg_dump', '--format=custom', '--compress=1', '--snapshot=00000003-0000001B-1', '--lock-wait-timeout=300000',
    ]);
    // `-e NAME` without a value: the docker CLI copies the value from its own environment.
    expect(env).toEqual({ PGUSER: 'aetherlens', PGDATABASE: 'aetherlens', PGPASSWORD: 's3cret-Passw0rd' });
    expect(args.join(' ')).not.toContain('s3cret');
    // No TTY: it would mangle the binary dump on stdout.
    expect(args).not.toContain('-t');
  });

  it('passes no password variable when there is none (local trust inside the container)', () => {
    const { password: _, ...noPassword } = connection;
    const { args, env } = dockerDumpCommand('db', noPassword, 'snap', 1);
    expect(args.slice(0, 6)).toEqual(['exec', '-e', 'PGUSER', '-e', 'PGDATABASE', 'db']);
    expect(env).toEqual({ PGUSER: 'aetherlens', PGDATABASE: 'aetherlens' });
  });

  it('a database named like a connection string stays a name (environment, not --dbname)', () => {
    const { args, env } = dockerDumpCommand('db', { ...connection, database: 'host=evil dbname=x' }, 'snap', 1);
    expect(args.some((a) => a.includes('evil'))).toBe(false);
    expect(env.PGDATABASE).toBe('host=evil dbname=x');
  });

  it('asks the container for its pg_dump version and inspects it', () => {
    expect(dockerExecArgs('db', ['pg_dump', '--version'])).toEqual(['exec', 'db', 'pg_dump', '--version']);
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

  it('refuses output that is not JSON', () => {
    expect(() => parseContainerInspect('Error: something', 'db')).toThrowErrorMatchingInlineSnapshot(`[OpsError: docker container inspect db printed something that is not JSON: check the docker CLI]`);
  });
});
