/**
 * The real Docker engine for the Docker suites (testcontainers' shape: the suite starts its own
 * containers, waits on a real readiness signal, removes them afterwards). The image is the local
 * stand-in for timescale/timescaledb:2.22.1-pg15 that scripts/build-test-image.sh builds
 * (test/support/image/README.md lists its differences from upstream).
 */
import { execFileSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { pack } from 'tar-stream';
import { describe, it } from 'vitest';

/** The Engine API client; dockerode reads DOCKER_HOST like the docker CLI does. */
export const docker = new Docker();

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

let resolved: { image?: string; reason?: string } | undefined;

/**
 * The test image, or why the Docker suites cannot run. scripts/test.sh resolves both once
 * (DB_OPS_TEST_IMAGE / DB_OPS_DOCKER_UNAVAILABLE); a suite run on its own asks the build
 * script, which answers at once when the image for the current recipe exists.
 */
export function testImage(): { image?: string; reason?: string } {
  if (resolved) return resolved;
  if (process.env.DB_OPS_DOCKER_UNAVAILABLE) return (resolved = { reason: process.env.DB_OPS_DOCKER_UNAVAILABLE });
  if (process.env.DB_OPS_TEST_IMAGE) return (resolved = { image: process.env.DB_OPS_TEST_IMAGE });
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 });
  } catch {
    return (resolved = { reason: 'no Docker engine answers (run scripts/start-docker.sh as root)' });
  }
  try {
    const out = execFileSync('bash', ['scripts/build-test-image.sh', '15', '2.22.1'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 1_200_000 });
    return (resolved = { image: out.trim().split('\n').at(-1)! });
  } catch (error) {
    return (resolved = { reason: `the test image did not build: ${(error as Error).message.split('\n')[0]}` });
  }
}

/**
 * The stand-in for timescale/timescaledb:<newest>-pg<pg> carrying every version in `versions`
 * (the upgrade suites: 2.28.3-pg15 also has 2.22.1). scripts/test.sh builds it and names it in
 * DB_OPS_TEST_IMAGE_PG<pg>_<newest, dots as underscores>; a suite run on its own builds it (about
 * 10-20 minutes once, then cached by its recipe's hash). Throws when it cannot: only call it
 * inside a describeDocker suite, so a missing image fails the suite, never skips it.
 */
export function requireTestImageWith(pgMajor: string, versions: readonly string[]): string {
  const variable = `DB_OPS_TEST_IMAGE_PG${pgMajor}_${versions.at(-1)!.replaceAll('.', '_')}`;
  const fromEnv = process.env[variable];
  if (fromEnv) return fromEnv;
  const out = execFileSync('bash', ['scripts/build-test-image.sh', pgMajor, ...versions], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 2_400_000 });
  return out.trim().split('\n').at(-1)!;
}

/** The image's reference; only call it inside a describeDocker suite. */
export function requireTestImage(): string {
  const { image, reason } = testImage();
  if (!image) throw new Error(`the Docker suites cannot run: ${reason}`);
  return image;
}

/**
 * describe() for a suite on the real engine. Outside CI a missing engine skips it, with the reason
 * in its name; in CI (CI=true) it fails instead, so a missing prerequisite never passes quietly.
 */
export function describeDocker(name: string, body: () => void): void {
  const { reason } = testImage();
  if (!reason) {
    describe(name, body);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('has a Docker engine and the test image', () => {
        throw new Error(`the Docker suites must run in CI, but: ${reason}`);
      });
    });
  } else {
    describe.skip(`${name} (skipped: ${reason})`, body);
  }
}

/** A unique, valid Docker name for this run. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** One file in a tar archive, for putArchive (the provider's upload: mode 0644 unless told). */
export function tarOf(files: readonly { path: string; content: string; mode?: number }[]): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  archive.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const done = new Promise<Buffer>((resolve, reject) => {
    archive.on('end', () => resolve(Buffer.concat(chunks)));
    archive.on('error', reject);
  });
  for (const file of files) archive.entry({ name: file.path.replace(/^\//, ''), mode: file.mode ?? 0o644, mtime: new Date() }, file.content);
  archive.finalize();
  return done;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs a command in a container through the Engine API and collects its output. */
export async function execIn(container: Docker.Container, cmd: string[], options: { user?: string; env?: string[] } = {}): Promise<ExecResult> {
  const exec = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, ...(options.user ? { User: options.user } : {}), ...(options.env ? { Env: options.env } : {}) });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const sink = (into: Buffer[]) => new PassThrough().on('data', (c: Buffer) => into.push(c));
    docker.modem.demuxStream(stream, sink(out), sink(err));
    stream.on('end', () => resolve());
    stream.on('error', reject);
  });
  const info = await exec.inspect();
  return { exitCode: info.ExitCode ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/** The container's log so far (stdout and stderr), as text. */
export async function logsOf(container: Docker.Container): Promise<string> {
  const raw = (await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
  // Without a TTY every frame has an 8-byte header: strip them.
  const parts: Buffer[] = [];
  for (let at = 0; at + 8 <= raw.length;) {
    const size = raw.readUInt32BE(at + 4);
    parts.push(raw.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Removes containers, then volumes and networks, by name; missing ones are fine. */
export async function removeAll(names: { containers?: string[]; volumes?: string[]; networks?: string[] }): Promise<void> {
  for (const name of names.containers ?? []) await docker.getContainer(name).remove({ force: true, v: true }).catch(() => {});
  for (const name of names.networks ?? []) await docker.getNetwork(name).remove().catch(() => {});
  for (const name of names.volumes ?? []) await docker.getVolume(name).remove({ force: true }).catch(() => {});
}
