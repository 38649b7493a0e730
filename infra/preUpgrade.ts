/**
 * Before the container is replaced for a new image: a backup of the running server, drilled there
 * at the TimescaleDB version it runs now (infra/pre-upgrade.sh). The container depends on this
 * step, so Pulumi runs it first; its only trigger is the image, so it runs on the first deploy
 * (where it says there is nothing to back up) and whenever the image changes, and a failure stops
 * `pulumi up` before anything was replaced. The post-deploy step's `aetherlens-db upgrade` then
 * finds this proven backup.
 */
import * as command from '@pulumi/command';
import * as pulumi from '@pulumi/pulumi';

/** Run from the repository root; see the script for the environment it reads. */
export const PRE_UPGRADE_COMMAND = 'sh infra/pre-upgrade.sh';

export interface PreUpgradeArgs {
  /** The image the container will run: the step's trigger. */
  image: string;
  /** That image's PostgreSQL major: a running server of a newer one is a rollback (pre-upgrade.sh). */
  pgMajor: number;
  /** The container to back up, if it exists (the one that is about to be replaced). */
  containerName: string;
  /** Where the backup goes (AETHERLENS_BACKUP_DIR); the CLI's default when undefined. */
  backupDir: string | undefined;
  /** Repository root, where bin/aetherlens-db.js and infra/pre-upgrade.sh live. */
  repoRoot: string;
}

export class PreUpgrade extends pulumi.ComponentResource {
  /** What the step did: "first deploy: …" or "pre-upgrade backup <id> taken and drilled …". */
  public readonly summary: pulumi.Output<string>;

  constructor(name: string, args: PreUpgradeArgs, opts?: pulumi.ComponentResourceOptions) {
    super('aetherlens:db:PreUpgrade', name, {}, opts);
    const run = new command.local.Command(
      `${name}-backup`,
      {
        create: PRE_UPGRADE_COMMAND,
        dir: args.repoRoot,
        environment: { DB_CONTAINER: args.containerName, IMAGE_PG_MAJOR: String(args.pgMajor), ...(args.backupDir ? { AETHERLENS_BACKUP_DIR: args.backupDir } : {}) },
        triggers: [args.image],
        addPreviousOutputInEnv: false,
      },
      { parent: this },
    );
    this.summary = run.stdout;
    this.registerOutputs({ summary: this.summary });
  }
}
