#!/usr/bin/env bash
# ctest "container": docker/compose.yaml for real, with Debian's podman-compose: a
# Redis service (AOF in a volume, a unix socket in another), a one-shot service that
# makes an admin key, three evald replicas in cluster mode that take only keys, and
# nginx in front with no sticky routing. A big trial division is
# launched through nginx and read back through nginx many times (different replicas
# answer, all the same job) and ends with the right answer and one final write. A
# script job that runs until cancelled is followed to its replica, which is stopped:
# another replica takes it over and a cancel ends it with one final write; everything is
# brought down (volumes too). Reuses the evald image the podman test built from the
# same sources. Exit 77 (skipped) with the reason when podman cannot run here.
# Usage: tests/container/compose_test.sh SOURCE_DIR
set -uo pipefail
src=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
extra_packages="podman-compose"
# shellcheck source=tests/container/podman_env.sh
source "$src/tests/container/podman_env.sh"
project=evaldct$$
# shellcheck source=tests/free_port.sh
source "$src/tests/free_port.sh"
port=$(free_port)
export EVALD_IMAGE EVALD_REDIS_IMAGE=localhost/evald-redis:test
export EVALD_NGINX_IMAGE=localhost/evald-nginx:test EVALD_PORT=$port EVALD_REPLICAS=3
compose() { podman-compose -p "$project" -f "$src/docker/compose.yaml" "$@"; }
cleanup() {
  compose down -v -t 2 >"$work/down.log" 2>&1
  # Whatever compose left (a failed start), by the project's label.
  podman ps -aq --filter "label=io.podman.compose.project=$project" | xargs -r podman rm -f -t 0 >/dev/null 2>&1
  podman volume ls -q --filter "label=io.podman.compose.project=$project" | xargs -r podman volume rm -f >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

EVALD_IMAGE=$(evald_image) || { echo "FAIL: podman build"; exit 1; }
for svc in redis nginx; do
  tag=localhost/evald-$svc:test
  if ! podman build --network=host --build-arg BASE="$base" -t "$tag" \
    -f "$src/docker/$svc.Dockerfile" "$src/docker" >"$work/build-$svc.log" 2>&1; then
    tail -20 "$work/build-$svc.log"
    echo "FAIL: podman build $svc"
    exit 1
  fi
done

t0=$SECONDS
compose up -d >"$work/up.log" 2>&1 || { tail -30 "$work/up.log"; echo "FAIL: podman-compose up"; exit 1; }
lb=http://127.0.0.1:$port
ready=""
for _ in $(seq 300); do
  ready=$(curl -s -m 2 "$lb/readyz") && grep -q '"cluster":"connected"' <<<"$ready" && break
  sleep 0.1
done
check "up in $((SECONDS - t0)) s, /readyz through nginx: $ready" grep -q '"cluster":"connected"' <<<"$ready"
if ! grep -q '"cluster":"connected"' <<<"$ready"; then
  # What went wrong, for the CI log: the containers, and the last lines of each.
  tail -20 "$work/up.log"
  podman ps -a --filter "label=io.podman.compose.project=$project" --format '{{.Names}} {{.Status}} {{.Ports}}'
  for c in $(podman ps -aq --filter "label=io.podman.compose.project=$project"); do
    echo "--- $(podman inspect --format '{{.Name}}' "$c")"
    podman logs --tail 15 "$c" 2>&1
  done
fi
mapfile -t replicas < <(podman ps -q --filter "label=io.podman.compose.project=$project" \
  --filter "label=com.docker.compose.service=evald")
check "three evald replicas run" test "${#replicas[@]}" = 3

# The one-shot "keys" service made an admin key; the replicas serve no anonymous client.
token=$(podman exec "${replicas[0]}" cat /run/evald-keys/admin.token 2>/dev/null)
check "the keys service made an admin token (${token:0:6}…)" grep -q '^evald_' <<<"$token"
auth=(-H "Authorization: Bearer $token")
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  -d '{"workload":"prime","n":"97"}' "$lb/eval")
check "without a key: 401 ($code)" test "$code" = 401
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "${auth[@]}" -H 'Content-Type: application/json' \
  -d '{"workload":"prime","n":"97"}' "$lb/eval")
check "with the generated key: 200 ($code)" test "$code" = 200

# A trial division of 2^64-59 (prime): a few seconds of CPU, split into parts.
launch=$(curl -s -m 10 -D "$work/launch.h" "${auth[@]}" -H 'Content-Type: application/json' \
  -d '{"workload":"prime","n":"18446744073709551557","method":"trial","timeout_ms":300000}' \
  "$lb/eval-launch")
id=$(sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p' <<<"$launch")
check "launch through nginx: 202 ($launch)" grep -q '^HTTP/1.1 202' "$work/launch.h"

# Read it back many times: every read is the same job, and more than one replica answers.
declare -A upstreams=()
ok=0
for _ in $(seq 30); do
  code=$(curl -s -m 5 "${auth[@]}" -D "$work/read.h" -o "$work/read.json" -w '%{http_code}' "$lb/jobs/$id")
  [[ $code == 200 ]] && grep -q "\"id\":\"$id\"" "$work/read.json" && ok=$((ok + 1))
  u=$(sed -n 's/^X-Evald-Upstream: *\([^[:space:]]*\).*/\1/ip' "$work/read.h")
  [[ -n $u ]] && upstreams[$u]=1
done
check "30 reads through nginx, $ok answered the job" test "$ok" = 30
check "reads answered by ${#upstreams[@]} replicas (${!upstreams[*]})" test "${#upstreams[@]}" -ge 2

# The trial division ends with the right answer and exactly one final write.
status=""
for _ in $(seq 900); do
  body=$(curl -s -m 5 "${auth[@]}" "$lb/jobs/$id")
  status=$(sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' <<<"$body" | head -1)
  [[ $status == done || $status == failed || $status == expired ]] && break
  sleep 0.1
done
check "the split job finished: $status" test "$status" = done
echo "the job: $body"
check "the answer: prime, no factor" grep -q '"prime":true,"method":"trial","factor":null' <<<"$body"
redis=$(podman ps -q --filter "label=io.podman.compose.project=$project" \
  --filter "label=com.docker.compose.service=redis")
finishes() { podman exec "$redis" redis-cli -s /run/redis/redis.sock LLEN "evald:job:{$1}:finishes"; }
n=$(finishes "$id")
check "exactly one final write in Redis ($n)" test "$n" = 1

# A job that runs until it is cancelled (so it is still running whenever the test looks):
# stop the replica running it; another replica takes it over; a cancel through nginx
# ends it with exactly one final write.
launch=$(curl -s -m 10 -D "$work/launch2.h" "${auth[@]}" -H 'Content-Type: application/json' \
  -d '{"workload":"script","source":"local s = 0 while true do s = s + 1 end","timeout_ms":300000}' \
  "$lb/eval-launch")
endless=$(sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p' <<<"$launch")
check "launch of an endless script: 202 ($launch)" grep -q '^HTTP/1.1 202' "$work/launch2.h"
running_on() { curl -s -m 5 "${auth[@]}" "$lb/jobs/$1" | sed -n 's/.*"status":"running".*"node":"\([^"]*\)".*/\1/p'; }
owner=""
for _ in $(seq 600); do
  owner=$(running_on "$endless")
  [[ -n $owner ]] && break
  sleep 0.05
done
victim=""
for c in "${replicas[@]}"; do
  [[ $owner == "$(podman inspect --format '{{.Config.Hostname}}' "$c")-"* ]] && victim=$c
done
check "the job runs on a replica ($owner)" test -n "$victim"
[[ -n $victim ]] && podman stop -t 10 "$victim" >/dev/null 2>"$work/stop.log"
stopped=$SECONDS
taker=""
for _ in $(seq 600); do
  taker=$(running_on "$endless")
  [[ -n $taker && $taker != "$owner" ]] && break
  sleep 0.1
done
check "another replica took it over $((SECONDS - stopped)) s after its replica stopped ($taker)" \
  test -n "$taker" -a "$taker" != "$owner"
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "${auth[@]}" -X DELETE "$lb/jobs/$endless")
check "DELETE through nginx: $code" test "$code" = 200
for _ in $(seq 300); do
  status=$(curl -s -m 5 "${auth[@]}" "$lb/jobs/$endless" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' | head -1)
  [[ $status == cancelled ]] && break
  sleep 0.1
done
check "the endless job is cancelled ($status)" test "$status" = cancelled
n=$(finishes "$endless")
check "exactly one final write in Redis for it ($n)" test "$n" = 1
check "Redis keeps an AOF in its volume" podman exec "$redis" sh -c 'ls /data/appendonlydir/*.aof >/dev/null'
check "nginx still answers with a replica gone" test "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$lb/healthz")" = 200

compose down -v -t 10 >"$work/down.log" 2>&1
left=$(podman ps -aq --filter "label=io.podman.compose.project=$project" | wc -l)
check "podman-compose down removed every container ($left left)" test "$left" = 0

if ((fail == 0)); then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit "$fail"
