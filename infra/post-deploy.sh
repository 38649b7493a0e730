#!/bin/sh
# The post-deploy step (infra/postDeploy.ts), run from the repository root once the container is
# healthy: `upgrade` (on a new PostgreSQL major's empty volume, the pre-upgrade backup restored
# version-aware and drilled; then TimescaleDB to the image's version in every database, guarded by
# the pre-upgrade backup; nothing to do on a first deploy or the same image), migrate, seed when
# called with --seed, then print `status --json` on stdout, so the applied migration head becomes a
# stack output. upgrade comes first: a new major's database must get the old data before migrate
# and seed would make it look like a new deployment's.
#
# DATABASE_URL comes from the environment, never argv. The CLI writes progress to stderr and its
# error as the last stderr line; on failure only that line is printed, so `pulumi up` fails with
# the runner's own one-line message (and exit code: 1 operational, 2 configuration).
set -u

cli=bin/aetherlens-db.js
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

fail() {
  last="$(grep -v '^[[:space:]]*$' "$log" | tail -n 1)"
  echo "${last:-aetherlens-db $2 exited with status $1}" >&2
  exit "$1"
}

if [ -n "${DB_CONTAINER:-}" ]; then
  # In the container, where the pre-upgrade backup was taken: its tools match the server.
  env -u DATABASE_URL node "$cli" upgrade --container "$DB_CONTAINER" >/dev/null 2>"$log" || fail $? upgrade
fi
node "$cli" migrate >/dev/null 2>"$log" || fail $? migrate
if [ "${1:-}" = --seed ]; then
  node "$cli" seed >/dev/null 2>"$log" || fail $? seed
fi
node "$cli" status --json 2>"$log" || fail $? status
