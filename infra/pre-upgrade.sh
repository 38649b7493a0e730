#!/bin/sh
# The pre-upgrade step (infra/preUpgrade.ts), run from the repository root before the container is
# replaced for a new image: takes a backup of the running server and drills it there, at the
# TimescaleDB version it runs now. The post-deploy step's `aetherlens-db upgrade` relies on that
# backup, and a rollback restores it. On the first deploy there is no container yet: it says so.
#
# DB_CONTAINER names the container (AETHERLENS_DB_CONTAINER would clash with DATABASE_URL in the
# CLI's settings, as one target at a time). On failure only the CLI's last line is printed, so
# `pulumi up` fails with its one-line message, before anything was replaced.
set -u

cli=bin/aetherlens-db.js
container="${DB_CONTAINER:?DB_CONTAINER names the container}"
log="$(mktemp)"
out="$(mktemp)"
trap 'rm -f "$log" "$out"' EXIT

fail() {
  last="$(grep -v '^[[:space:]]*$' "$log" | tail -n 1)"
  echo "pre-upgrade: ${last:-aetherlens-db $2 exited with status $1}; the container was not replaced" >&2
  exit "$1"
}

state="$(docker inspect -f '{{.State.Running}}' "$container" 2>/dev/null)"
if [ -z "$state" ]; then
  echo "first deploy: no container $container yet, nothing to back up"
  exit 0
fi
if [ "$state" != true ]; then
  echo "pre-upgrade: container $container exists but is not running, so no backup can be taken before it is replaced: start it (docker start $container) and run pulumi up again" >&2
  exit 1
fi

# Going back to an older PostgreSQL major (the rollback): that major's volume holds its data as it
# was, and the newer one's volume stays too, so a backup of the running server is taken when it can
# be, and its failure (a broken new server is why one rolls back) does not stop the rollback.
running_major="$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$container" 2>/dev/null | sed -n 's/^PG_MAJOR=//p')"
if [ -n "${IMAGE_PG_MAJOR:-}" ] && [ -n "$running_major" ] && [ "$running_major" -gt "$IMAGE_PG_MAJOR" ]; then
  rollback=1
else
  rollback=0
fi
skip() {
  last="$(grep -v '^[[:space:]]*$' "$log" | tail -n 1)"
  echo "pre-upgrade: back to PostgreSQL $IMAGE_PG_MAJOR: no backup of the PostgreSQL $running_major server could be taken (${last:-aetherlens-db $1 failed}); its volume stays as it is"
  exit 0
}

env -u DATABASE_URL node "$cli" status --container "$container" --json >"$out" 2>"$log" || { status=$?; [ $rollback = 1 ] && skip status; fail $status status; }
# A server whose database was never migrated holds none of the stack's data (a first start, or a new
# major whose carry-over failed and is being rolled back): its backup would be empty, and as the
# newest one it would hide the real pre-upgrade backup from the next major upgrade.
if [ "$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).head ?? "none")' "$out")" = none ]; then
  echo "pre-upgrade: the database in container $container was never migrated, so it holds no data to back up"
  exit 0
fi
env -u DATABASE_URL node "$cli" backup --container "$container" --json >"$out" 2>"$log" || { status=$?; [ $rollback = 1 ] && skip backup; fail $status backup; }
id="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).id)' "$out")"
if ! env -u DATABASE_URL node "$cli" verify "$id" --container "$container" >"$out" 2>"$log"; then
  status=$?
  [ $rollback = 1 ] && skip verify
  # A drill that ran and failed says why on stdout; one that could not run, on stderr.
  failed="$(grep -m 1 '^  FAIL' "$out" | sed 's/^  FAIL  *//')"
  [ -n "$failed" ] && { echo "pre-upgrade: backup $id failed its drill ($failed); the container was not replaced" >&2; exit 1; }
  fail $status verify
fi
echo "pre-upgrade backup $id taken and drilled on the running server"
