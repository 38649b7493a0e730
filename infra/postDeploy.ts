/**
 * After the container is healthy: migrate, seed, and record the migration head applied.
 *
 * Why @pulumi/command and not a dynamic provider: a dynamic provider's create/update functions are
 * serialised (closure serialisation) into the state, together with everything they capture; a
 * top-level `pg` import (sockets, an optional native binding) cannot be serialised, and the
 * serialiser does not work on this ESM program loaded through tsx anyway. A local Command runs the
 * project's own CLI as a separate process instead: the same code path as an operator's
 * `aetherlens-db migrate` (STYLE 2), its exit codes and its one-line errors, nothing serialised.
 */
import * as command from '@pulumi/command';
import * as pulumi from '@pulumi/pulumi';

/** Run from the repository root; see the script for the environment it reads. */
export const POST_DEPLOY_COMMAND = 'sh infra/post-deploy.sh';

/**
 * The step's command line. Whether to seed is an argument, not an environment variable: the CLI
 * refuses every AETHERLENS_* variable it does not know, and the step's environment is the CLI's.
 */
export function postDeployCommand(sampleData: boolean): string {
  return sampleData ? `${POST_DEPLOY_COMMAND} --seed` : POST_DEPLOY_COMMAND;
}

export interface PostDeployArgs {
  /** postgres://user:password@host:port/db; must be a secret. It is passed in the environment only. */
  databaseUrl: pulumi.Input<string>;
  /** migrationSetChecksum() of the migrations folder: the step re-runs when (and because) it changes. */
  migrationChecksum: string;
  /** Load the sample data after migrating. */
  sampleData: boolean;
  /** The image the container runs: a new one re-runs the step, whose `upgrade` moves TimescaleDB to it. */
  image: string;
  /** The container `upgrade` runs in (the tools there match the server; the pre-upgrade backup was taken there). */
  containerName: string;
  /** Where the pre-upgrade backup is (AETHERLENS_BACKUP_DIR); the CLI's default when undefined. */
  backupDir: string | undefined;
  /** Repository root, where bin/aetherlens-db.js and infra/post-deploy.sh live. */
  repoRoot: string;
  /** Resources that must be ready first: the healthy container. */
  after: pulumi.Input<pulumi.Resource>[];
}

/**
 * The migration head from `aetherlens-db status --json` (its `head` field). Taken from the runner
 * after it ran, rather than computed from the migrations folder, so the output states what the
 * database has applied, not what we hoped it would.
 */
export function parseMigrationHead(stdout: string): string {
  let status: unknown;
  try {
    status = JSON.parse(stdout);
  } catch {
    throw new Error(`aetherlens-db status --json printed something that is not JSON: ${JSON.stringify(stdout.slice(0, 200))}`);
  }
  const head = (status as { head?: unknown } | null)?.head;
  if (head === null || head === undefined) return 'none';
  if (typeof head === 'number' || typeof head === 'string') return String(head);
  throw new Error(`aetherlens-db status --json has no usable "head" field: ${JSON.stringify(stdout.slice(0, 200))}`);
}

export class PostDeploy extends pulumi.ComponentResource {
  /** The migration version the database reports after the run ("none" for an empty ledger). */
  public readonly migrationHead: pulumi.Output<string>;
  /** The checksum of the migration set that run applied. */
  public readonly migrationChecksum: pulumi.Output<string>;

  constructor(name: string, args: PostDeployArgs, opts?: pulumi.ComponentResourceOptions) {
    super('aetherlens:db:PostDeploy', name, {}, opts);

    const run = new command.local.Command(
      `${name}-migrate`,
      {
        create: postDeployCommand(args.sampleData),
        dir: args.repoRoot,
        // Secrets in the environment, never in argv (which `ps` shows to every user).
        environment: {
          DATABASE_URL: pulumi.secret(args.databaseUrl),
          DB_CONTAINER: args.containerName,
          ...(args.backupDir ? { AETHERLENS_BACKUP_DIR: args.backupDir } : {}),
        },
        // The triggers: a changed migration set or a new image replaces (re-runs) the step; an
        // unchanged one leaves it alone. The other inputs only change when the target itself does
        // (another port, host or password), where running the idempotent steps again is what we want.
        triggers: [args.migrationChecksum, args.image],
        addPreviousOutputInEnv: false,
      },
      { parent: this, dependsOn: args.after },
    );

    this.migrationHead = run.stdout.apply(parseMigrationHead);
    this.migrationChecksum = pulumi.output(args.migrationChecksum);
    this.registerOutputs({ migrationHead: this.migrationHead, migrationChecksum: this.migrationChecksum });
  }
}
