/**
 * One data volume per PostgreSQL major: a new major cannot open an older one's data directory, so
 * a major upgrade starts on a volume of its own and the old one stays, untouched, for a rollback.
 * PostgreSQL 15 keeps the name existing deployments have (`volumeName`); every other major gets
 * `<volumeName>-pg<major>`. Which majors already have a volume is read from the engine, the only
 * place that knows what data exists (the stack's state does not outlive `pulumi destroy`).
 */
import { execFileSync } from 'node:child_process';

/** The major whose volume keeps the plain `volumeName`: what every deployment before majors had. */
export const LEGACY_MAJOR = 15;

/** The volume that holds PostgreSQL `major`'s data. */
export function dataVolumeName(base: string, major: number): string {
  return major === LEGACY_MAJOR ? base : `${base}-pg${major}`;
}

/** The majors among `names` (docker volume names) that are data volumes of `base`, ascending. */
export function dataVolumeMajors(base: string, names: readonly string[]): number[] {
  const majors = new Set<number>();
  for (const name of names) {
    if (name === base) majors.add(LEGACY_MAJOR);
    else if (name.startsWith(`${base}-pg`) && /^\d+$/.test(name.slice(base.length + 3))) majors.add(Number(name.slice(base.length + 3)));
  }
  return [...majors].sort((a, b) => a - b);
}

/**
 * The volume names on the engine the Docker CLI reaches (DOCKER_HOST, or `dockerHost` when the
 * stack sets docker:host). Throws one line when no engine answers.
 */
export function engineVolumeNames(dockerHost?: string): string[] {
  try {
    const out = execFileSync('docker', ['volume', 'ls', '--format', '{{.Name}}'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
      env: { ...process.env, ...(dockerHost ? { DOCKER_HOST: dockerHost } : {}) },
    });
    return out.split('\n').filter((n) => n !== '');
  } catch (error) {
    const detail = String((error as { stderr?: string }).stderr ?? (error as Error).message).trim().split('\n').at(-1);
    throw new Error(`cannot list the Docker engine's volumes to find this stack's data (docker volume ls: ${detail}): start the engine or set DOCKER_HOST`);
  }
}
