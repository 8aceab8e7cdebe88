#!/usr/bin/env bash
# ctest "container": builds docker/Dockerfile with podman (runc; the Debian 12 base
# imported from debootstrap, since no registry is reachable) and checks from the host:
# /healthz through the published port, the image's HEALTHCHECK, evald as PID 1 and a
# non-root user, io_uring allowed by docker/seccomp.json, and a clean `podman stop`
# (SIGTERM → drain → exit 0, well under 10 s). Also: under the stock profile, which
# blocks io_uring, evald exits 3 with a clear message.
# Exit 77 (skipped) with the reason when podman cannot run here.
# Usage: tests/container/podman_test.sh SOURCE_DIR
set -uo pipefail
src=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
# shellcheck source=tests/container/podman_env.sh
source "$src/tests/container/podman_env.sh"
name=evald-test-$$
cleanup() {
  podman rm -f -t 0 "$name" "$name-noring" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

image=$(evald_image) || { echo "FAIL: podman build"; exit 1; }
check "image has a HEALTHCHECK" grep -q 'GET /healthz' <<<"$(podman image inspect "$image")"
check "image stops with SIGTERM" test "$(podman inspect --format '{{.Config.StopSignal}}' "$image")" = SIGTERM

# shellcheck source=tests/free_port.sh
source "$src/tests/free_port.sh"
port=$(free_port)
# PID 1 is not systemd here, so podman cannot schedule the HEALTHCHECK timer (it
# logs an error and goes on); the check is run by hand below.
podman run -d --name "$name" --read-only --cap-drop=ALL --security-opt no-new-privileges \
  --security-opt seccomp="$src/docker/seccomp.json" -p "127.0.0.1:$port:8080" "$image" >/dev/null ||
  { echo "FAIL: podman run"; exit 1; }
body=""
for _ in $(seq 100); do
  body=$(curl -sS -m 2 "http://127.0.0.1:$port/healthz" 2>/dev/null) && break
  sleep 0.1
done
check "healthz through the published port ($body)" test "$body" = '{"status":"ok"}'
prime=$(curl -sS -m 20 "http://127.0.0.1:$port/prime?n=100109100129100151&method=trial")
check "trial division on io_uring in the container" grep -q '"prime":true' <<<"$prime"
check "HEALTHCHECK command passes" podman healthcheck run "$name"
check "evald is PID 1" test "$(podman exec "$name" cat /proc/1/comm)" = evald
check "runs as a non-root user" test "$(podman exec "$name" id -u)" = 10001
check "backend is io_uring" grep -q 'backend=io_uring' <<<"$(podman logs "$name" 2>&1)"
t=$(date +%s%N)
podman stop -t 10 "$name" >/dev/null
ms=$((($(date +%s%N) - t) / 1000000))
code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
check "podman stop: exit $code after a drain, in $ms ms" test "$code" = 0 -a "$ms" -lt 5000
check "the drain is in the log" grep -q ' info drained$' <<<"$(podman logs "$name" 2>&1)"

# The stock profile (like Docker >= 25's) blocks io_uring: a clear error, exit 3.
podman run --name "$name-noring" --security-opt seccomp=/usr/share/containers/seccomp.json \
  "$image" >"$work/noring.log" 2>&1
code=$?
check "io_uring blocked: exit $code" test "$code" = 3
check "io_uring blocked: the message says what to do" grep -q 'docker/seccomp.json' "$work/noring.log"

if ((fail == 0)); then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit "$fail"
