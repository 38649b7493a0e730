/**
 * The Pulumi program (Pulumi.yaml `main`): read the settings, load the migrations folder, declare
 * the stack, export its outputs. See "Deploy with Pulumi" in README.md.
 */
import { fileURLToPath } from 'node:url';
import * as pulumi from '@pulumi/pulumi';
import { DEFAULT_MIGRATIONS_DIR, loadInitScripts, migrationSetChecksum } from '../ops/lib/index.js';
import { checkMajorMove, readSettings } from './config.js';
import { dataVolumeMajors, engineVolumeNames } from './dataVolumes.js';
import { declareStack } from './stack.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const settings = readSettings();

// Which PostgreSQL majors already have data here: their volumes stay declared (protected), and a
// move below the newest is refused unless it returns to a volume that still exists (a rollback).
let dataMajors: number[];
try {
  dataMajors = dataVolumeMajors(settings.volumeName, engineVolumeNames(new pulumi.Config('docker').get('host')));
} catch (error) {
  throw new pulumi.RunError((error as Error).message);
}
checkMajorMove(settings, dataMajors);

// Read before anything is declared, so a broken migrations folder fails the preview with the
// library's one-line message instead of a stack trace.
let initScripts: Awaited<ReturnType<typeof loadInitScripts>>;
let checksum: string;
try {
  initScripts = await loadInitScripts(DEFAULT_MIGRATIONS_DIR);
  checksum = await migrationSetChecksum(DEFAULT_MIGRATIONS_DIR);
} catch (error) {
  throw new pulumi.RunError(`migrations folder ${DEFAULT_MIGRATIONS_DIR}: ${error instanceof Error ? error.message : String(error)}`);
}

const stack = declareStack({
  settings,
  initScripts: initScripts.map((script) => ({ fileName: script.fileName, content: script.sql })),
  migrationChecksum: checksum,
  repoRoot,
  dataMajors,
});

export const host = stack.host;
export const port = stack.port;
export const database = stack.database;
export const user = stack.user;
export const connectionString = stack.connectionString;
export const containerName = stack.containerName;
export const volumeName = stack.volumeName;
export const imageRepoDigest = stack.imageRepoDigest;
export const migrationHead = stack.migrationHead;
export const preUpgrade = stack.preUpgrade;
export const migrationChecksum = stack.migrationChecksum;
export const backupDir = stack.backupDir;
