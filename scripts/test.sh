#!/usr/bin/env bash
# `npm test`: installs what the suites need if it is missing, then type checks, lint and every suite.
#   - PostgreSQL 15 + TimescaleDB 2.22.1 community edition (the default version) with 2.28.3 beside
#     it for the upgrade and version-aware restore suites, natively (scripts/install-timescaledb.sh);
#   - a Docker engine (scripts/start-docker.sh) and the test images standing in for
#     timescale/timescaledb:2.22.1-pg15, 2.28.3-pg15 (with 2.22.1 in it too) and 2.29.2-pg17 (with
#     2.22.1 and 2.28.3), built by scripts/build-test-image.sh and cached by their recipe's hash.
# In CI (CI=true) every prerequisite must be there: a missing one fails the run. Elsewhere, a
# missing Docker engine skips the Docker suites, and the closing line says why.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund
vendor=${AETHERLENS_VENDOR_DIR:-$(cd .. && pwd)/shared/vendor}
# Only the image build reads it (given below); the suites' CLI runs would refuse it as unknown.
unset AETHERLENS_VENDOR_DIR
if [ -z "${TIMESCALEDB_SOURCE:-}" ] && [ -f "$vendor/timescaledb-2.22.1.tar.gz" ]; then
  export TIMESCALEDB_SOURCE="$vendor/timescaledb-2.22.1.tar.gz"
fi
if [ -z "${TIMESCALEDB_SOURCE_DIR:-}" ] && [ -f "$vendor/timescaledb-2.28.3.tar.gz" ]; then
  export TIMESCALEDB_SOURCE_DIR="$vendor"
fi
bash scripts/install-timescaledb.sh

# Named DB_OPS_*, not AETHERLENS_*: the post-deploy step inherits this environment, and the CLI
# refuses AETHERLENS_* variables it does not know.
unset DB_OPS_DOCKER_UNAVAILABLE
started=$(date +%s)
image_log=$(mktemp)
reason=""
if ! docker_log=$(bash scripts/start-docker.sh 2>&1); then
  reason="no Docker engine: $(printf '%s\n' "$docker_log" | tail -n 1)"
elif ! image=$(AETHERLENS_VENDOR_DIR="$vendor" bash scripts/build-test-image.sh 15 2.22.1 2>"$image_log"); then
  reason="the test image did not build: $(tail -n 1 "$image_log")"
# The minor-upgrade suite's image: 2.28.3-pg15, which also carries 2.22.1 as upstream's does.
elif ! upgrade_image=$(AETHERLENS_VENDOR_DIR="$vendor" bash scripts/build-test-image.sh 15 2.22.1 2.28.3 2>>"$image_log"); then
  reason="the 2.28.3-pg15 test image did not build: $(tail -n 1 "$image_log")"
# The major-upgrade suites' image: 2.29.2-pg17 (Debian trixie), also carrying 2.22.1 and 2.28.3
# built for PostgreSQL 17, so a PG15 dump at either version restores at its own version.
elif ! major_image=$(AETHERLENS_VENDOR_DIR="$vendor" bash scripts/build-test-image.sh 17 2.22.1 2.28.3 2.29.2 2>>"$image_log"); then
  reason="the 2.29.2-pg17 test image did not build: $(tail -n 1 "$image_log")"
else
  export DB_OPS_TEST_IMAGE_PG15_2_28_3="${upgrade_image##*$'\n'}"
  export DB_OPS_TEST_IMAGE_PG17_2_29_2="${major_image##*$'\n'}"
fi
echo "$docker_log"; cat "$image_log"; rm -f "$image_log"
if [ -z "$reason" ]; then
  export DB_OPS_TEST_IMAGE="${image##*$'\n'}"
  echo "test image: $DB_OPS_TEST_IMAGE (engine and image ready in $(( $(date +%s) - started )) s)"
elif [ "${CI:-}" = true ]; then
  echo "CI runs the Docker suites, but: $reason" >&2
  exit 1
else
  export DB_OPS_DOCKER_UNAVAILABLE="$reason"
fi

echo "== type check"; npx tsc --noEmit -p tsconfig.json
echo "== lint"; npx eslint .
echo "== tests"
report=$(mktemp)
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
# One closing line that CI can read whatever the runner: "tests: N passed, N failed, N skipped".
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  const why = process.env.DB_OPS_DOCKER_UNAVAILABLE;
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped${why && skipped ? ` (Docker suites skipped: ${why})` : ""}`);
  if (r.numPassedTests === 0) { console.error("no test passed: refusing to call this green"); process.exit(1); }
' "$report" || status=1
rm -f "$report"
exit $status
