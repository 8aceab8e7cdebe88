#!/usr/bin/env bash
# ctest "systemd": boots a real systemd 252 in systemd-nspawn over a debootstrapped
# Debian 12 root, installs evald's .deb there (binary, config, evald.service and
# evald.socket), and checks from the host:
#   the package leaves evald.socket enabled, not started; the first request starts
#   the service; it runs as a dynamic non-root user with no capabilities;
#   /healthz and /prime answer; Type=notify STATUS; `systemctl reload` keeps
#   serving (same PID, no failed request); `systemctl restart` refuses no
#   connection (the socket stays open); `systemctl stop` drains an evaluation in
#   flight; the journal holds the start-up line; the unit's exposure.
# Exit 77 (skipped) with the reason when nspawn cannot run here.
# The root is cached in .deps/nspawn-rootfs (git-ignored; EVALD_NSPAWN_CACHE overrides).
# Usage: tests/systemd/nspawn_test.sh SOURCE_DIR
set -uo pipefail
src=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
skip() { echo "SKIPPED: $*"; exit 77; }
fail=0
check() { # name command...: runs the command, prints PASS/FAIL
  local name=$1
  shift
  if "$@"; then echo "PASS: $name"; else echo "FAIL: $name"; fail=1; fi
}

[[ $(id -u) -eq 0 ]] || skip "needs root (systemd-nspawn, debootstrap)"
need=()
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
  echo "installing ${need[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") \
    >/tmp/evald-nspawn-apt.log 2>&1 || skip "apt-get could not install ${need[*]}"
fi

# --- the package, built from this tree
cd "$src" || exit 1
echo "building the .deb (preset package)"
{ cmake --preset package && cmake --build --preset package && (cd build/package && cpack -G DEB); } \
  >/tmp/evald-nspawn-build.log 2>&1 || { tail -30 /tmp/evald-nspawn-build.log; exit 1; }
deb=$(ls -t build/package/evald_*_amd64.deb | head -1)
# debootstrap needs real package names: a virtual one (libspdlog1.10-fmt9) becomes
# the package that provides it.
depends=""
for dep in $(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -E 's/\(.*\)//; s/ //g' | sort); do
  candidate=$(apt-cache policy "$dep" 2>/dev/null | awk '/Candidate:/{print $2}')
  if [[ -z $candidate || $candidate == "(none)" ]]; then
    dep=$(apt-cache showpkg "$dep" | awk '/^Reverse Provides:/{getline; print $1; exit}')
  fi
  depends+="$dep,"
done

# --- the root file system (cached; rebuilt when the package's dependencies change)
cache=${EVALD_NSPAWN_CACHE:-$src/.deps/nspawn-rootfs}
base="$cache/base"
stamp="systemd,systemd-sysv,dbus,curl,${depends%,}"
if [[ ! -x $base/lib/systemd/systemd || $(cat "$cache/stamp" 2>/dev/null) != "$stamp" ]]; then
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null)
  [[ -n $mirror ]] || mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  [[ -n $mirror ]] || skip "no Debian mirror in the apt sources for debootstrap"
  echo "debootstrap bookworm into $base (about a minute, once)"
  rm -rf "$base"
  mkdir -p "$cache"
  debootstrap --variant=minbase --include="$stamp" bookworm "$base" "$mirror" \
    >"$cache/debootstrap.log" 2>&1 || { tail -20 "$cache/debootstrap.log"; skip "debootstrap failed"; }
  rm -f "$base"/var/cache/apt/archives/*.deb
  echo "$stamp" >"$cache/stamp"
fi
# A fresh copy per run, so every run starts from the same state.
root="$cache/run"
rm -rf "$root"
cp -a "$base" "$root"
echo evaldtest >"$root/etc/hostname"

# shellcheck source=tests/free_port.sh
source "$src/tests/free_port.sh"
port=$(free_port)
cp "$deb" "$root/root/evald.deb"
chroot "$root" dpkg -i /root/evald.deb >/tmp/evald-nspawn-dpkg.log 2>&1 ||
  { cat /tmp/evald-nspawn-dpkg.log; exit 1; }
check "package leaves evald.socket enabled" \
  test "$(SYSTEMD_OFFLINE=1 systemctl --root="$root" is-enabled evald.socket 2>/dev/null)" = enabled
# The host shares its network with the container: use a free port.
mkdir -p "$root/etc/systemd/system/evald.socket.d"
printf '[Socket]\nListenStream=\nListenStream=127.0.0.1:%s\n' "$port" \
  >"$root/etc/systemd/system/evald.socket.d/port.conf"

# --- boot
systemd-nspawn -D "$root" --boot --register=no --keep-unit --console=read-only \
  --machine=evaldtest >"$cache/nspawn.log" 2>&1 &
nspawn=$!
ct=""
pid1() { ps --ppid "$nspawn" -o pid= 2>/dev/null | head -1 | tr -d ' '; }
cleanup() {
  kill -0 "$nspawn" 2>/dev/null || return 0
  [[ -n $ct ]] || ct=$(pid1)
  if [[ -n $ct ]]; then
    nsenter -t "$ct" -a -- systemctl poweroff 2>/dev/null || kill -RTMIN+4 "$ct" 2>/dev/null
  else
    kill -TERM "$nspawn"
  fi
  for _ in $(seq 150); do kill -0 "$nspawn" 2>/dev/null || return 0; sleep 0.1; done
  [[ -n $ct ]] && kill -KILL "$ct" 2>/dev/null
}
trap cleanup EXIT
state=""
for _ in $(seq 600); do
  kill -0 "$nspawn" 2>/dev/null || { cat "$cache/nspawn.log"; skip "systemd-nspawn exited at boot"; }
  ct=$(pid1)
  if [[ -n $ct ]]; then
    state=$(nsenter -t "$ct" -a -- systemctl is-system-running 2>/dev/null)
    [[ $state == running || $state == degraded ]] && break
  fi
  sleep 0.1
done
[[ $state == running || $state == degraded ]] || skip "the container's systemd did not boot (state '$state')"
echo "booted: container PID 1 is host pid $ct, state $state"
in_ct() { nsenter -t "$ct" -a -- "$@"; }
show() { in_ct systemctl show -p "$1" --value "$2"; }
url="http://127.0.0.1:$port"

# --- socket activation
check "evald.socket is listening" test "$(show ActiveState evald.socket)" = active
check "evald.service not started before a request" test "$(show ActiveState evald.service)" = inactive
body=$(curl -sS -m 10 "$url/healthz")
check "first request starts the service (healthz: $body)" test "$body" = '{"status":"ok"}'
check "evald.service active" test "$(show ActiveState evald.service)" = active
pid=$(show MainPID evald.service)
status=$(in_ct cat "/proc/$pid/status")
uid=$(awk '/^Uid:/{print $2}' <<<"$status")
echo "$status" | grep -E '^(Uid|Gid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):'
check "runs as a dynamic non-root user (uid $uid)" test "$uid" -ne 0
check "empty effective capability set" grep -q '^CapEff:[[:space:]]*0000000000000000$' <<<"$status"
check "empty permitted capability set" grep -q '^CapPrm:[[:space:]]*0000000000000000$' <<<"$status"
check "empty bounding set" grep -q '^CapBnd:[[:space:]]*0000000000000000$' <<<"$status"
check "no new privileges" grep -q '^NoNewPrivs:[[:space:]]*1$' <<<"$status"
check "seccomp filter on" grep -q '^Seccomp:[[:space:]]*2$' <<<"$status"
prime=$(curl -sS -m 10 "$url/prime?n=100109100129100151")
check "/prime answers ($prime)" grep -q '"prime":true' <<<"$prime"
trial=$(curl -sS -m 20 "$url/prime?n=100109100129100151&method=trial")
check "/prime trial answers on io_uring under the sandbox" grep -q '"prime":true' <<<"$trial"
check "Type=notify status text ($(show StatusText evald.service))" \
  grep -q '^serving: ' <<<"$(show StatusText evald.service)"
check "watchdog armed ($(show WatchdogUSec evald.service))" test "$(show WatchdogUSec evald.service)" != 0

# load: N sequential requests on fresh connections; prints the failures
load() {
  local n=$1 failed=0
  for _ in $(seq "$n"); do
    curl -sf -m 10 -o /dev/null "$url/healthz" || failed=$((failed + 1))
  done
  echo "$failed"
}

# --- reload: same process, nothing refused
load 300 >"$cache/reload.failed" &
loader=$!
in_ct systemctl reload evald.service
reload_rc=$?
wait "$loader"
check "systemctl reload succeeds" test "$reload_rc" -eq 0
check "reload keeps the process (pid $pid)" test "$(show MainPID evald.service)" = "$pid"
check "no request failed across the reload" test "$(cat "$cache/reload.failed")" -eq 0

# --- restart: the socket stays open, so no connection is refused
load 300 >"$cache/restart.failed" &
loader=$!
in_ct systemctl restart evald.service
restart_rc=$?
wait "$loader"
check "systemctl restart succeeds" test "$restart_rc" -eq 0
check "restart started a new process" test "$(show MainPID evald.service)" != "$pid"
check "no request failed across the restart ($(cat "$cache/restart.failed") failed)" \
  test "$(cat "$cache/restart.failed")" -eq 0

# --- stop drains: an evaluation in flight is answered, the exit is clean
curl -sS -m 30 -o "$cache/inflight.json" -w '%{http_code}' \
  "$url/prime?n=18446744073709551557&method=trial" >"$cache/inflight.code" &
inflight=$!
for _ in $(seq 100); do
  in_ct journalctl -u evald.service --no-pager -q | grep -q . && break
  sleep 0.05
done
# wait until the evaluation is running (requests_in_flight = 1 besides the scrape)
for _ in $(seq 200); do
  curl -s -m 5 "$url/metrics" | grep -q '^evald_requests_in_flight 2$' && break
  sleep 0.02
done
in_ct systemctl stop evald.service
wait "$inflight"
check "stop drains the evaluation in flight ($(cat "$cache/inflight.code"))" \
  test "$(cat "$cache/inflight.code")" = 200
check "service stopped cleanly (Result=$(show Result evald.service))" \
  test "$(show Result evald.service)" = success
journal=$(in_ct journalctl -u evald.service --no-pager -o cat)
check "journal holds the start-up line" grep -q 'evald 0.1.0 started: backend=io_uring' <<<"$journal"
check "journal holds the drain" grep -q ' info drained$' <<<"$journal"
check "journal holds the reload" grep -q 'SIGHUP: reopening log files' <<<"$journal"
# --- API keys as a credential (the unit's commented LoadCredential= lines, as a drop-in)
key_lines=$("$src/build/package/evald" keys new --tenant ops --scopes eval 2>/dev/null)
token=$(sed -n 1p <<<"$key_lines")
printf '{"keys":[%s]}\n' "$(sed -n 2p <<<"$key_lines")" >"$root/etc/evald/keys.json"
chmod 600 "$root/etc/evald/keys.json"
mkdir -p "$root/etc/systemd/system/evald.service.d"
unit_file=$(ls "$root"/usr/lib/systemd/system/evald.service "$root"/lib/systemd/system/evald.service \
  2>/dev/null | head -1)
grep -E '^#(LoadCredential=keys\.json:|Environment=EVALD_KEYS_FILE=)' "$unit_file" |
  sed 's/^#//' | { echo "[Service]"; cat; } >"$root/etc/systemd/system/evald.service.d/keys.conf"
in_ct systemctl daemon-reload
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$url/prime?n=97")
check "with the keys credential, no key is a 401 ($code)" test "$code" = 401
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$url/prime?n=97")
check "with the keys credential, the key is a 200 ($code)" test "$code" = 200
check "the keys file came in as a credential" \
  grep -q 'API keys: 1 from /run/credentials/evald.service/keys.json' \
  <<<"$(in_ct journalctl -u evald.service --no-pager -o cat)"
in_ct systemctl stop evald.service

echo "exposure inside the container: $(in_ct systemd-analyze security --no-pager evald.service | tail -1)"

if ((fail != 0)); then
  in_ct systemctl status --no-pager evald.service evald.socket
  in_ct journalctl --no-pager -n 60 -u evald.service
fi
if ((fail == 0)); then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit "$fail"
