#!/usr/bin/env bash
# The test suite on a fresh machine: set everything up, then run every test (unit and integration, on the real
# daemons) and print one closing line "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CI="${CI:-true}"
report=$(mktemp /tmp/labctl-vitest.XXXXXX.json)
status=0
echo "== static checks (tsc over src, checks, bench and test; biome lint)"
static=0
npm run --silent typecheck || static=$?
npm run --silent lint || static=$?
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = (r.numPendingTests || 0) + (r.numTodoTests || 0);
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
' "$report" || echo "tests: 0 passed, 1 failed"
rm -f "$report"
if [ "$static" != 0 ]; then
  echo "static checks failed (npm run typecheck / npm run lint, output above)"
  [ "$status" != 0 ] || status=1
fi
exit "$status"
