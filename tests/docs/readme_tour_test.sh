#!/usr/bin/env bash
# ctest "docs_readme_tour": the README's curl tour is what scripts/readme_tour.sh prints
# against a live server today, with ids, times and counts masked. When an answer changes,
# re-record it: bash scripts/readme_tour.sh (release build) and paste the output.
# Usage: tests/docs/readme_tour_test.sh SOURCE_DIR EVALD_BINARY
set -uo pipefail
src=$1
bin=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if ! EVALD_BIN="$bin" PORT="$port" timeout 120 bash "$src/scripts/readme_tour.sh" >"$work/fresh" 2>"$work/err"; then
  cat "$work/err"
  echo "0 passed, 1 failed (scripts/readme_tour.sh did not finish)"
  exit 1
fi
# The README's block: the first fenced block after "## A curl tour".
awk '/^## A curl tour/ {on = 1; next} on && /^```/ {if (inside) exit; inside = 1; next} inside {print}' \
  "$src/README.md" >"$work/readme"
mask() {
  sed -E 's/[0-9a-f]{32}/<id>/g
    s/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z/<time>/g
    s/"(wall_ms|cpu_ms|progress|chunks|workers|divisors_checked)":"?[0-9.e+-]+"?/"\1":<n>/g
    s/dur=[0-9.]+/dur=<n>/g' "$1"
}
if diff <(mask "$work/readme") <(mask "$work/fresh") >"$work/diff"; then
  echo "the README's tour ($(grep -c '^\$ ' "$work/readme") commands) matches a fresh run"
  echo "1 passed, 0 failed"
  exit 0
fi
echo "the README's tour (<) differs from a fresh run of scripts/readme_tour.sh (>):"
cat "$work/diff"
echo "0 passed, 1 failed"
exit 1
