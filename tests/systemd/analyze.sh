#!/usr/bin/env bash
# ctest "systemd": the units pass `systemd-analyze verify` and the service's
# exposure (`systemd-analyze security --offline=true`) is at most 1.0. No running
# systemd needed. Exit 77 when systemd-analyze cannot be had.
# Usage: tests/systemd/analyze.sh SOURCE_DIR
set -uo pipefail
src=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
if ! command -v systemd-analyze >/dev/null; then
  [[ $(id -u) -eq 0 ]] || { echo "SKIPPED: no systemd-analyze"; exit 77; }
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd) >/dev/null 2>&1 ||
    { echo "SKIPPED: cannot install systemd"; exit 77; }
fi
export SYSTEMD_UTF8=0 SYSTEMD_PAGER= SYSTEMD_COLORS=0
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
units="$src/config/systemd"
rc=0
# --threshold is exposure × 10: 10 = 1.0.
if ! systemd-analyze security --offline=true --threshold=10 "$units/evald.service" | tail -1; then
  echo "FAIL: exposure above 1.0"
  rc=1
fi
# verify looks for ExecStart= on this host: check copies that point at a placeholder.
printf '#!/bin/sh\n' >"$scratch/evald"
chmod +x "$scratch/evald"
sed -E "s|^ExecStart=/usr/bin/evald|ExecStart=$scratch/evald|" "$units/evald.service" >"$scratch/evald.service"
cp "$units/evald.socket" "$scratch/evald.socket"
# Documentation=man:evald(1) is checked with man(1): offer the page from the tree.
mkdir -p "$scratch/man/man1"
cp "$src/packaging/evald.1" "$scratch/man/man1/"
export MANPATH="$scratch/man"
if ! out=$(systemd-analyze verify "$scratch/evald.service" "$scratch/evald.socket" 2>&1) || [[ -n $out ]]; then
  echo "FAIL: systemd-analyze verify: $out"
  rc=1
fi
((rc == 0)) && echo "verify clean; exposure within 1.0"
exit $rc
