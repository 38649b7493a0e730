#!/usr/bin/env bash
# `npm test`: installs what the suites need if it is missing, then type checks, lint and every suite.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund
# PostgreSQL 15 + TimescaleDB for the native suites (seconds when already installed).
bash scripts/install-timescaledb.sh

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
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
  if (r.numPassedTests === 0) { console.error("no test passed: refusing to call this green"); process.exit(1); }
' "$report" || status=1
rm -f "$report"
exit $status
