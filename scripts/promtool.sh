#!/usr/bin/env bash
# Prints the path of a promtool binary, fetching Debian's `prometheus` package into
# .deps/prometheus (unpacked, never installed: no service is started) when the
# machine has none. Usage: "$(bash scripts/promtool.sh)" check metrics < scrape.txt
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if command -v promtool >/dev/null; then
  command -v promtool
  exit 0
fi
dest="$root/.deps/prometheus"
if [[ ! -x $dest/usr/bin/promtool ]]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  echo "promtool: fetching Debian's prometheus package into .deps/prometheus" >&2
  if ! (cd "$work" && apt-get -qq download prometheus 2>/dev/null); then
    apt-get update -qq
    (cd "$work" && apt-get -qq download prometheus)
  fi
  rm -rf "$dest"
  dpkg -x "$work"/prometheus_*.deb "$dest"
fi
echo "$dest/usr/bin/promtool"
