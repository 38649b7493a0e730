// Issue 17, item 6: libpq's meaning of every sslmode and of sslrootcert, sslcert and sslkey,
// against a real PostgreSQL 15 whose certificates come from a CA made here with openssl. Each case
// connects with our client (ops/lib/pg.ts) and with psql given the same settings through the
// libpq environment we hand pg_dump and pg_restore (libpqEnv), and both must agree.
import { chmod, chown, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { libpqEnv, type ConnectionInfo } from '../ops/lib/connection.js';
import { connect, withClient } from '../ops/lib/pg.js';
import { describeNative, PG_BIN, startNativeCluster, type NativeCluster } from './support/nativeCluster.js';

type Outcome = 'ssl' | 'plain' | { error: string };

const POSTGRES_UID = async () => Number((await execa('id', ['-u', 'postgres'])).stdout);

describeNative('sslmode as libpq means it (native server, a test CA)', () => {
  let tls: NativeCluster;
  let plainServer: NativeCluster;
  let pki: string;
  let home: string;
  const savedHome = process.env.HOME;
  const file = (name: string) => join(pki, name);

  const openssl = (args: string[]) => execa('openssl', args, { cwd: pki });
  async function makeCa(name: string): Promise<void> {
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`,
      '-days', '2', '-subj', `/CN=AetherLens test ${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  }
  async function signed(name: string, subject: string, ca: string, extensions = ''): Promise<void> {
    await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
    await writeFile(file(`${name}.ext`), extensions);
    await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
    await chmod(file(`${name}.key`), 0o600);
  }

  beforeAll(async () => {
    pki = await mkdtemp(join(tmpdir(), 'aetherlens-pki-'));
    home = await mkdtemp(join(tmpdir(), 'aetherlens-home-'));
    // No ~/.postgresql: the defaults libpq would read from it are absent for both clients.
    process.env.HOME = home;
    await makeCa('ca');
    await makeCa('wrong-ca');
    await signed('server', '/CN=localhost', 'ca', 'subjectAltName=DNS:localhost\n');
    await signed('client', '/CN=certuser', 'ca');

    tls = await startNativeCluster();
    plainServer = await startNativeCluster();
    const uid = process.getuid?.() === 0 ? await POSTGRES_UID() : undefined;
    for (const name of ['server.crt', 'server.key', 'ca.crt']) {
      const target = join(tls.dataDir, name);
      await copyFile(file(name), target);
      await chmod(target, 0o600);
      if (uid !== undefined) await chown(target, uid, uid);
    }
    await writeFile(join(tls.dataDir, 'pg_hba.conf'), [
      'local all all scram-sha-256',
      'hostssl all certuser 127.0.0.1/32 cert',
      'hostnossl all plainonly 127.0.0.1/32 scram-sha-256',
      'hostssl all plainonly 127.0.0.1/32 reject',
      'hostssl all sslonly 127.0.0.1/32 scram-sha-256',
      'hostnossl all sslonly 127.0.0.1/32 reject',
      'host all all 127.0.0.1/32 scram-sha-256',
      '',
    ].join('\n'));
    await withClient({ ...tls.info, sslmode: 'disable' }, async (c) => {
      for (const role of ['certuser', 'plainonly', 'sslonly']) await c.query(`CREATE ROLE ${role} LOGIN PASSWORD '${tls.info.password}'`);
      await c.query(`ALTER SYSTEM SET ssl_cert_file = 'server.crt'`);
      await c.query(`ALTER SYSTEM SET ssl_key_file = 'server.key'`);
      await c.query(`ALTER SYSTEM SET ssl_ca_file = 'ca.crt'`);
      await c.query(`ALTER SYSTEM SET ssl = on`);
      await c.query('SELECT pg_reload_conf()');
    }, 'postgres');
    // The reload is asynchronous: wait until a new session sees ssl on.
    for (let i = 0; i < 100; i++) {
      const on = await withClient({ ...tls.info, sslmode: 'disable' }, async (c) => (await c.query<{ ssl: string }>('SHOW ssl')).rows[0]!.ssl, 'postgres');
      if (on === 'on') break;
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  afterAll(async () => {
    process.env.HOME = savedHome;
    await tls?.stop();
    await plainServer?.stop();
    if (pki) await rm(pki, { recursive: true, force: true });
    if (home) await rm(home, { recursive: true, force: true });
  });

  const SSL_IN_USE = 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()';

  /** What our client gets: TLS in use, plain, or the one-line error. */
  async function ours(info: ConnectionInfo): Promise<Outcome> {
    try {
      const client = await connect(info, 'postgres');
      try {
        return (await client.query<{ ssl: boolean }>(SSL_IN_USE)).rows[0]!.ssl ? 'ssl' : 'plain';
      } finally {
        await client.end();
      }
    } catch (error) {
      return { error: (error as Error).message };
    }
  }

  /** What psql gets with the libpq environment pg_dump would get. */
  async function psql(info: ConnectionInfo): Promise<Outcome> {
    const r = await execa(join(PG_BIN, 'psql'), ['-XAtc', SSL_IN_USE], { env: { ...libpqEnv(info, 'postgres'), HOME: home, PATH: process.env.PATH }, extendEnv: false, reject: false });
    return r.exitCode === 0 ? (r.stdout.trim() === 't' ? 'ssl' : 'plain') : { error: r.stderr.trim().split('\n')[0]! };
  }

  /** Both clients, which must agree on connecting or not, and on TLS. */
  async function both(info: ConnectionInfo): Promise<{ ours: Outcome; psql: Outcome }> {
    const result = { ours: await ours(info), psql: await psql(info) };
    const kind = (o: Outcome) => (typeof o === 'string' ? o : 'refused');
    expect(kind(result.ours), `psql: ${JSON.stringify(result.psql)}`).toBe(kind(result.psql));
    return result;
  }

  const at = (host: string, extra: Partial<ConnectionInfo>, server = () => tls): ConnectionInfo => ({ ...server().info, host, ...extra });

  it('verify-full: the right CA and a host name the certificate names connect over TLS', async () => {
    expect((await both(at('localhost', { sslmode: 'verify-full', sslrootcert: file('ca.crt') }))).ours).toBe('ssl');
  });

  it('verify-full refuses a host name the certificate does not name; verify-ca accepts it', async () => {
    const full = await both(at('127.0.0.1', { sslmode: 'verify-full', sslrootcert: file('ca.crt') }));
    expect(full.ours).toEqual({ error: expect.stringMatching(/^the server's certificate at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/postgres does not name the host we connected to \(sslmode=verify-full: .*127\.0\.0\.1.*\): connect with a host name the certificate names, or use sslmode=verify-ca$/) });
    expect(full.psql).toEqual({ error: expect.stringMatching(/does not match host name "127\.0\.0\.1"/) });
    expect((await both(at('127.0.0.1', { sslmode: 'verify-ca', sslrootcert: file('ca.crt') }))).ours).toBe('ssl');
  });

  it('verify-ca and verify-full refuse a server whose certificate another CA signed', async () => {
    for (const sslmode of ['verify-ca', 'verify-full']) {
      const r = await both(at('localhost', { sslmode, sslrootcert: file('wrong-ca.crt') }));
      expect(r.ours).toEqual({ error: expect.stringMatching(new RegExp(`^the server's certificate at .* is not signed by the CA in "${file('wrong-ca.crt')}" \\([A-Z_]+\\): check sslrootcert, and that this is the server you meant$`)) });
      expect(r.psql).toEqual({ error: expect.stringMatching(/certificate verify failed/) });
    }
  });

  it('verify-ca without a root certificate file is refused before connecting', async () => {
    const r = await both(at('localhost', { sslmode: 'verify-ca' }));
    expect(r.ours).toEqual({ error: `sslmode=verify-ca needs the CA's certificate, but the root certificate file "${join(home, '.postgresql', 'root.crt')}" does not exist: set sslrootcert=FILE in DATABASE_URL, or use sslmode=require to skip checking the server's certificate` });
  });

  it('require: TLS without checks when there is no root certificate, but checks the chain when there is one', async () => {
    expect((await both(at('127.0.0.1', { sslmode: 'require' }))).ours).toBe('ssl');
    expect((await both(at('127.0.0.1', { sslmode: 'require', sslrootcert: file('ca.crt') }))).ours).toBe('ssl');
    expect((await both(at('127.0.0.1', { sslmode: 'require', sslrootcert: file('wrong-ca.crt') }))).ours).toEqual({ error: expect.stringContaining('is not signed by the CA in') });
  });

  it('require and verify modes refuse a server without SSL; prefer falls back to plain there', async () => {
    const r = await both(at('127.0.0.1', { sslmode: 'require' }, () => plainServer));
    expect(r.ours).toEqual({ error: expect.stringMatching(/^the server at .* does not offer SSL, but sslmode=require requires it: turn ssl on in the server's postgresql.conf, or use sslmode=prefer$/) });
    expect((await both(at('127.0.0.1', { sslmode: 'prefer' }, () => plainServer))).ours).toBe('plain');
    // No sslmode at all is libpq's default, prefer.
    expect((await both(at('127.0.0.1', {}, () => plainServer))).ours).toBe('plain');
    expect((await both(at('127.0.0.1', {}))).ours).toBe('ssl');
  });

  it('disable, allow and prefer against a server that accepts some users only with or only without TLS', async () => {
    expect((await both(at('127.0.0.1', { sslmode: 'disable' }))).ours).toBe('plain');
    expect((await both(at('127.0.0.1', { sslmode: 'disable', user: 'sslonly' }))).ours).toEqual({ error: expect.stringContaining('no encryption') });
    expect((await both(at('127.0.0.1', { sslmode: 'allow' }))).ours).toBe('plain');
    expect((await both(at('127.0.0.1', { sslmode: 'allow', user: 'sslonly' }))).ours).toBe('ssl');
    expect((await both(at('127.0.0.1', { sslmode: 'prefer' }))).ours).toBe('ssl');
    expect((await both(at('127.0.0.1', { sslmode: 'prefer', user: 'plainonly' }))).ours).toBe('plain');
  });

  it('sslcert and sslkey log in with a client certificate; a key others can read is refused', async () => {
    const certUser = { user: 'certuser', password: undefined, sslmode: 'verify-full', sslrootcert: file('ca.crt') };
    expect((await both(at('localhost', { ...certUser, sslcert: file('client.crt'), sslkey: file('client.key') }))).ours).toBe('ssl');
    expect((await both(at('localhost', certUser))).ours).toEqual({ error: expect.stringMatching(/certificate|authentication/) });
    await copyFile(file('client.key'), file('loose.key'));
    await chmod(file('loose.key'), 0o644);
    const loose = await both(at('localhost', { ...certUser, sslcert: file('client.crt'), sslkey: file('loose.key') }));
    expect(loose.ours).toEqual({ error: `private key file "${file('loose.key')}" has group or world access (mode 644): run chmod 600 '${file('loose.key')}' (0640 or less if root owns it), as libpq requires` });
    expect(loose.psql).toEqual({ error: expect.stringContaining('has group or world access') });
  });

  it('an sslmode libpq does not know is refused', async () => {
    expect(await ours(at('localhost', { sslmode: 'verify' }))).toEqual({ error: 'sslmode "verify" is not one of disable, allow, prefer, require, verify-ca, verify-full (libpq\'s values): fix sslmode in DATABASE_URL' });
  });
});
