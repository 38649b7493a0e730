/**
 * Declares the stack from validated settings: the password, the TimescaleDB component and the
 * post-deploy step, and the values index.ts exports. Kept apart from index.ts so tests can declare
 * the stack with their own settings and migrations folder.
 */
import { isIPv6 } from 'node:net';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import type { StackSettings } from './config.js';
import { PostDeploy } from './postDeploy.js';
import { PreUpgrade } from './preUpgrade.js';
import { TimescaleDb, type InitScript } from './timescaledb.js';

export interface StackInputs {
  settings: StackSettings;
  /** migrations/init, uploaded into the container. */
  initScripts: readonly InitScript[];
  /** migrationSetChecksum() of the same migrations folder. */
  migrationChecksum: string;
  /** Repository root, where the CLI lives. */
  repoRoot: string;
  /** PostgreSQL majors whose data volumes exist on the engine (dataVolumes.ts); none on a first deploy. */
  dataMajors?: readonly number[];
}

export interface StackOutputs {
  host: string;
  port: number;
  database: string;
  user: string;
  /** Secret. */
  connectionString: pulumi.Output<string>;
  containerName: pulumi.Output<string>;
  volumeName: pulumi.Output<string>;
  imageRepoDigest: pulumi.Output<string>;
  migrationHead: pulumi.Output<string>;
  migrationChecksum: pulumi.Output<string>;
  /** What the pre-upgrade step did on this deploy. */
  preUpgrade: pulumi.Output<string>;
  backupDir: string;
}

/** postgres://user:password@host:port/db, the password percent-encoded; a secret. */
export function connectionString(user: string, password: pulumi.Input<string>, host: string, port: number, database: string): pulumi.Output<string> {
  const hostPart = isIPv6(host) ? `[${host}]` : host;
  return pulumi.secret(pulumi.output(password).apply((p) => `postgres://${user}:${encodeURIComponent(p)}@${hostPart}:${port}/${database}`));
}

export function declareStack({ settings, initScripts, migrationChecksum, repoRoot, dataMajors = [] }: StackInputs): StackOutputs {
  // Generated once and kept in state. PostgreSQL only reads the password when it initialises an
  // empty volume, so never change these arguments: a new password would not reach the database.
  const password =
    settings.dbPassword ??
    pulumi.secret(
      new random.RandomPassword('db-password', { length: 32, special: false, minLower: 1, minUpper: 1, minNumeric: 1 }).result,
    );

  const preUpgrade = new PreUpgrade('pre-upgrade', {
    image: settings.image,
    pgMajor: settings.pgMajor,
    containerName: settings.containerName,
    backupDir: settings.backupDir,
    repoRoot,
  });

  const db = new TimescaleDb('timescaledb', {
    image: settings.image,
    containerName: settings.containerName,
    volumeName: settings.volumeName,
    pgMajor: settings.pgMajor,
    keepMajors: dataMajors,
    networkName: `${settings.containerName}-net`,
    hostPort: settings.hostPort,
    bindAddress: settings.bindAddress,
    memoryMb: settings.memoryMb,
    cpus: settings.cpus,
    database: settings.dbName,
    user: settings.dbUser,
    password,
    extraSettings: settings.postgresSettings,
    initScripts,
    backupDir: settings.backupDir,
    protectData: settings.protectData,
    labels: { 'aetherlens.stack': `${pulumi.getProject()}/${pulumi.getStack()}` },
    containerAfter: [preUpgrade],
  });

  const url = connectionString(settings.dbUser, password, settings.connectHost, settings.hostPort, settings.dbName);
  const postDeploy = new PostDeploy('post-deploy', {
    databaseUrl: url,
    migrationChecksum,
    sampleData: settings.sampleData,
    image: settings.image,
    containerName: settings.containerName,
    backupDir: settings.backupDir,
    repoRoot,
    after: [db.container],
  });

  return {
    host: settings.connectHost,
    port: settings.hostPort,
    database: settings.dbName,
    user: settings.dbUser,
    connectionString: url,
    containerName: db.containerName,
    volumeName: db.volumeName,
    imageRepoDigest: db.imageRepoDigest,
    migrationHead: postDeploy.migrationHead,
    preUpgrade: preUpgrade.summary,
    migrationChecksum: postDeploy.migrationChecksum,
    backupDir: settings.backupDir ?? '',
  };
}
