#!/usr/bin/env bash
# ctest "install_tree": what `make install` installs, from this build into a DESTDIR: the
# binary (it runs), the config (it passes --check-config), the man page, the systemd units
# whose ExecStart names the installed binary and config, README, LICENSE and NOTICE.
# Usage: tests/docs/install_test.sh BUILD_DIR
set -uo pipefail
build=$1
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
fail=0
check() {
  local name=$1
  shift
  if "$@"; then echo "PASS: $name"; else echo "FAIL: $name"; fail=1; fi
}
if ! DESTDIR="$dest" cmake --install "$build" >"$dest.log" 2>&1; then
  cat "$dest.log"
  echo "0 passed, 1 failed (cmake --install)"
  exit 1
fi
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
bin="$dest$prefix/bin/evald"
unit=$(find "$dest" -name evald.service | head -1)
config=$(find "$dest" -path '*/evald/evald.json' | head -1)
check "the binary is installed and runs" "$bin" --version
check "the config is installed and valid" "$bin" --check-config --config "$config"
check "the man page is installed" test -f "$dest$prefix/share/man/man1/evald.1"
check "both systemd units are installed" test -f "$unit" -a -f "$(dirname "$unit")/evald.socket"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
check "ExecStart names the installed binary ($exec_start)" test "${exec_start%% *}" = "$prefix/bin/evald"
check "ExecStart names the installed config" test "$dest${exec_start##* }" = "$config"
for f in README.md LICENSE NOTICE; do
  check "$f is installed" test -f "$dest$prefix/share/doc/evald/$f"
done
rm -f "$dest.log"
if ((fail == 0)); then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit "$fail"
