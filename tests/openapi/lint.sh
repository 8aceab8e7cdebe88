#!/usr/bin/env bash
# ctest "openapi_lint": handlers/openapi/openapi.json through a real OpenAPI linter,
# @redocly/cli 1.34.20 from npm (installed once into a cache outside the clone),
# with the recommended rules (tests/openapi/redocly.yaml). Any error or warning fails.
# Usage: tests/openapi/lint.sh SOURCE_DIR
set -uo pipefail
src=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
cache=${EVALD_NPM_CACHE:-/var/cache/evald-npm}
version=1.34.20
command -v npm >/dev/null || { echo "SKIPPED: npm is not installed"; exit 77; }
bin=$cache/node_modules/.bin/redocly
if [[ ! -x $bin ]] || ! grep -q "\"version\": \"$version\"" "$cache/node_modules/@redocly/cli/package.json" 2>/dev/null; then
  mkdir -p "$cache"
  echo "installing @redocly/cli@$version into $cache (once)"
  (cd "$cache" && npm install --no-audit --no-fund --loglevel=error "@redocly/cli@$version") \
    >"$cache/install.log" 2>&1 || { tail -5 "$cache/install.log"; echo "FAIL: npm install"; exit 1; }
fi
out=$("$bin" lint --config "$src/tests/openapi/redocly.yaml" --format=summary \
  "$src/handlers/openapi/openapi.json" 2>&1)
rc=$?
echo "$out"
if ((rc != 0)) || grep -qE '^(error|warning) ' <<<"$out"; then
  echo "FAIL: the linter reported problems"
  exit 1
fi
echo "PASS: redocly $version lint, no error or warning"
