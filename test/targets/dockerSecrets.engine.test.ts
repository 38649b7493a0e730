// Issue 17, item 7 on the real engine: the docker target reads the password from the container's
// POSTGRES_PASSWORD_FILE (docker exec cat), so no variable holds it; once read, it must still be
// blanked wherever it turns up. Here it is part of a path the operator gave, so the error that
// follows would carry it verbatim.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { describeDocker, removeAll, requireTestImage, uniqueName } from '../support/docker.js';
import { freePort } from '../support/nativeCluster.js';
import { createContainer, createVolumeAndNetwork, declare } from '../support/stackOnEngine.js';

describeDocker('the password of a container\'s password file never reaches output', () => {
  const name = uniqueName('aetherlens-secret');
  const password = `Pw${Math.random().toString(36).slice(2)}File`;
  let root: string;
  let trap: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aetherlens-docker-secret-'));
    // A file named like the password: a directory below it cannot exist, and every error says where.
    trap = join(root, password);
    await writeFile(trap, '');
    const stack = await declare({ dbPassword: password, hostPort: String(await freePort()), containerName: name, volumeName: `${name}-data`, memoryMb: '1024', sampleData: 'false' });
    await createVolumeAndNetwork(stack);
    await createContainer(stack, () => requireTestImage());
  }, 600_000);
  afterAll(async () => {
    await removeAll({ containers: [name], networks: [`${name}-net`], volumes: [`${name}-data`] });
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('backup: the error names the path with the password blanked', async () => {
    const r = await runCli(['backup', '--container', name, '--dir', join(trap, 'backups')]);
    expect(r.stderr).toBe(`error: cannot write backups to ${join(root, '***', 'backups')}: part of the path is a file, not a directory: choose another --dir (or AETHERLENS_BACKUP_DIR); nothing was written`);
    expect(r.exitCode).toBe(1);
  });
});
