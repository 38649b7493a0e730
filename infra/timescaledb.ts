/**
 * The TimescaleDB container as a component: the image, a named data volume, a private network and
 * the container itself, healthy before anything depends on it. Inputs are checked against
 * @pulumi/docker 5.2.0 (container.d.ts, remoteImage.d.ts, volume.d.ts, network.d.ts,
 * types/input.d.ts) and the image's Dockerfiles (timescale/timescaledb-docker, docker-library/postgres).
 */
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { dataVolumeName, LEGACY_MAJOR } from './dataVolumes.js';
import { tuningFor } from './tuning.js';

/**
 * Where the image keeps its data. timescale/timescaledb is built FROM postgres:<pg>-alpine, whose
 * Dockerfile sets `ENV PGDATA /var/lib/postgresql/data` (the -ha image uses /home/postgres/pgdata).
 * We also set PGDATA to it explicitly, so a future image that moves it cannot leave the volume unused.
 */
export const PGDATA = '/var/lib/postgresql/data';
/** Scripts here run once, when the entrypoint initialises an empty PGDATA. */
export const INIT_DIR = '/docker-entrypoint-initdb.d';
/** Read by the entrypoint through POSTGRES_PASSWORD_FILE, so the password stays out of `docker inspect`. */
export const PASSWORD_FILE = '/run/secrets/aetherlens-db-password';
/** Where `backupDir` is mounted inside the container. */
export const BACKUP_MOUNT = '/backups';
export const POSTGRES_PORT = 5432;

/** An init script from migrations/init, uploaded into the container. */
export interface InitScript {
  fileName: string;
  content: string;
}

export interface TimescaleDbArgs {
  /** `timescale/timescaledb:TAG`, optionally pinned `@sha256:DIGEST`. */
  image: string;
  containerName: string;
  /** The data volume's base name: PostgreSQL 15's volume, and `<name>-pg<major>` for the others. */
  volumeName: string;
  /** The image's PostgreSQL major: the container mounts this major's volume. */
  pgMajor: number;
  /** Majors whose data volumes already exist: declared too, so they stay (protected) after a major move. */
  keepMajors?: readonly number[];
  networkName: string;
  hostPort: number;
  /** Host address the port is published on (127.0.0.1 unless asked otherwise). */
  bindAddress: string;
  memoryMb: number;
  cpus: number;
  database: string;
  user: string;
  /** Must be a Pulumi secret; it is only ever placed in secret inputs. */
  password: pulumi.Input<string>;
  /** Extra PostgreSQL settings, applied over the tuned ones. */
  extraSettings?: Readonly<Record<string, string>>;
  initScripts: readonly InitScript[];
  /** Absolute directory on the Docker host, mounted at /backups. */
  backupDir?: string;
  /** Keep the data volume on delete and refuse to destroy it (default true). */
  protectData?: boolean;
  labels?: Readonly<Record<string, string>>;
  /** Steps that must finish before the container is created or replaced: the pre-upgrade backup. */
  containerAfter?: pulumi.Input<pulumi.Resource>[];
}

/** The server's settings: the tuned ones from tuning.ts, then the operator's extras over them. */
export function serverSettings(memoryMb: number, cpus: number, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return { ...tuningFor(memoryMb, cpus), ...extra };
}

/** `postgres -c name=value ...`: command-line settings win over postgresql.conf. */
export function serverCommand(settings: Readonly<Record<string, string>>): string[] {
  return ['postgres', ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])];
}

export class TimescaleDb extends pulumi.ComponentResource {
  public readonly containerId: pulumi.Output<string>;
  public readonly containerName: pulumi.Output<string>;
  public readonly volumeName: pulumi.Output<string>;
  public readonly networkName: pulumi.Output<string>;
  /** `repo@sha256:...` of the image the container runs. */
  public readonly imageRepoDigest: pulumi.Output<string>;
  /** The container, for resources that must wait until it is healthy. */
  public readonly container: docker.Container;

  constructor(name: string, args: TimescaleDbArgs, opts?: pulumi.ComponentResourceOptions) {
    super('aetherlens:db:TimescaleDb', name, {}, opts);
    const protectData = args.protectData ?? true;
    const labels = { 'aetherlens.component': 'timescaledb', ...args.labels };
    const labelList = Object.entries(labels).map(([label, value]) => ({ label, value }));

    // keepLocally: destroying the stack must not delete an image other containers may share.
    const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, { parent: this });

    // protect + retainOnDelete: neither `pulumi destroy` nor a replacement (e.g. a renamed volume)
    // may delete the data. README.md ("Data and pulumi destroy") says how to really delete it.
    // One volume per PostgreSQL major (dataVolumes.ts); the older ones stay declared, so a major
    // upgrade leaves them as they were and setting the old image again brings them back. PostgreSQL
    // 15's keeps its resource name and inputs exactly: a change would replace existing deployments' volume.
    const volumeFor = (major: number) =>
      new docker.Volume(
        major === LEGACY_MAJOR ? `${name}-data` : `${name}-data-pg${major}`,
        {
          name: dataVolumeName(args.volumeName, major),
          driver: 'local',
          labels: major === LEGACY_MAJOR ? labelList : [...labelList, { label: 'aetherlens.pgMajor', value: String(major) }],
        },
        { parent: this, protect: protectData, retainOnDelete: protectData },
      );
    const majors = [...new Set([...(args.keepMajors ?? []), args.pgMajor])].sort((a, b) => a - b);
    const dataVolumes = new Map(majors.map((major) => [major, volumeFor(major)] as const));
    const volume = dataVolumes.get(args.pgMajor)!;

    // A user-defined bridge, not `internal`: internal networks cannot publish ports to the host.
    // Named resources cannot exist twice, so a replacement deletes the old one first.
    const network = new docker.Network(
      `${name}-net`,
      { name: args.networkName, driver: 'bridge', labels: labelList },
      { parent: this, deleteBeforeReplace: true },
    );

    const settings = serverSettings(args.memoryMb, args.cpus, args.extraSettings);
    const uploads = pulumi.output(args.password).apply((password) => [
      // Init scripts go in by upload, not a bind mount, so a remote DOCKER_HOST works too.
      ...args.initScripts.map((script) => ({ file: `${INIT_DIR}/${script.fileName}`, content: script.content })),
      { file: PASSWORD_FILE, content: password },
    ]);

    const volumes: docker.types.input.ContainerVolume[] = [{ volumeName: volume.name, containerPath: PGDATA }];
    if (args.backupDir) volumes.push({ hostPath: args.backupDir, containerPath: BACKUP_MOUNT });

    this.container = new docker.Container(
      `${name}-container`,
      {
        name: args.containerName,
        image: image.imageId,
        command: serverCommand(settings),
        envs: [
          `POSTGRES_DB=${args.database}`,
          `POSTGRES_USER=${args.user}`,
          `POSTGRES_PASSWORD_FILE=${PASSWORD_FILE}`,
          `PGDATA=${PGDATA}`,
          'TIMESCALEDB_TELEMETRY=off',
          // The image would otherwise run timescaledb-tune on first start and write its own values
          // into postgresql.conf; tuning.ts is the one source of truth, passed as -c flags above.
          'NO_TS_TUNE=true',
        ],
        uploads: pulumi.secret(uploads),
        volumes,
        networksAdvanced: [{ name: network.name, aliases: ['timescaledb'] }],
        ports: [{ internal: POSTGRES_PORT, external: args.hostPort, ip: args.bindAddress, protocol: 'tcp' }],
        restart: 'unless-stopped',
        memory: args.memoryMb,
        cpus: String(args.cpus),
        healthcheck: {
          // Over TCP on purpose: while the entrypoint runs the init scripts its temporary server
          // listens on the Unix socket only, so this stays unhealthy until the real server is up.
          tests: ['CMD', 'pg_isready', '-h', '127.0.0.1', '-p', String(POSTGRES_PORT), '-U', args.user, '-d', args.database],
          // Durations in Go's notation, as the provider reads them back (60s would return as
          // 1m0s and show a diff on every refresh).
          interval: '10s',
          timeout: '5s',
          retries: 6,
          startPeriod: '1m0s',
        },
        wait: true,
        // First start runs initdb and the init scripts before the health check can pass.
        waitTimeout: 180,
        // The image stops with SIGINT (fast shutdown); give it time to finish before SIGKILL.
        stopTimeout: 60,
        destroyGraceSeconds: 60,
        logDriver: 'json-file',
        logOpts: { 'max-size': '10m', 'max-file': '3' },
        labels: labelList,
      },
      // Same name and host port: the old container must be gone (stopped cleanly, see
      // destroyGraceSeconds) before its replacement is created. containerAfter: the old one is
      // backed up (and the backup drilled) before that happens.
      { parent: this, deleteBeforeReplace: true, ...(args.containerAfter ? { dependsOn: args.containerAfter } : {}) },
    );

    this.containerId = this.container.id;
    this.containerName = this.container.name;
    this.volumeName = volume.name;
    this.networkName = network.name;
    this.imageRepoDigest = image.repoDigest;
    this.registerOutputs({
      containerId: this.containerId,
      containerName: this.containerName,
      volumeName: this.volumeName,
      networkName: this.networkName,
      imageRepoDigest: this.imageRepoDigest,
    });
  }
}
