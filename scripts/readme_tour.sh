#!/usr/bin/env bash
# Prints the README's curl tour from a live release build, so the README shows
# real output. Usage: bash scripts/readme_tour.sh > /tmp/tour.txt
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/build/release/evald"
port="${PORT:-8080}"
base="http://127.0.0.1:$port"
out="$(mktemp)"
"$bin" --config "$root/config/evald.json" --listen "127.0.0.1:$port" >"$out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q listening "$out" && break; sleep 0.05; done

# show "shown command" command...: prints "$ shown" then the real command's output.
# CRs are dropped and each output ends with one blank line.
show() {
  local shown=$1
  shift
  printf '$ %s\n%s\n\n' "$shown" "$("$@" | tr -d '\r')"
}

show "curl -i $base/healthz" curl -si "$base/healthz"
show "curl $base/prime?n=100109100129100151" curl -s "$base/prime?n=100109100129100151"
show "curl \"$base/prime?n=100109100129101027&method=trial\"" curl -s "$base/prime?n=100109100129101027&method=trial"
show "curl -i \"$base/prime?n=18446744073709551616\"" curl -si "$base/prime?n=18446744073709551616"
show "curl -I $base/chargen?bytes=148" curl -sI "$base/chargen?bytes=148"
show "curl $base/chargen?bytes=148" curl -s "$base/chargen?bytes=148"
show "curl -s $base/chargen | head -c 300   # chunked, until the client closes" \
  bash -c "curl -s '$base/chargen' | head -c 300; echo"
show "curl -i -X POST $base/healthz" curl -si -X POST "$base/healthz"
show "curl -i $base/nope" curl -si "$base/nope"
show "curl -i \"$base/prime?n=100109100129100151&method=trial\"" curl -si "$base/prime?n=100109100129100151&method=trial"
show "curl $base/factor?n=100109100129101027" curl -s "$base/factor?n=100109100129101027"
batch='{"items":[{"workload":"prime","n":"97"},{"workload":"factor","n":"12"},{"workload":"prime","n":"x"}]}'
show "curl -X POST -H \"Content-Type: application/json\" $base/eval -d '$batch'" \
  curl -s -X POST -H "Content-Type: application/json" "$base/eval" -d "$batch"
show "curl -i \"$base/prime?n=18446744073709551557&method=trial&timeout_ms=100\"" \
  curl -si "$base/prime?n=18446744073709551557&method=trial&timeout_ms=100"
job='{"workload":"prime","n":"18446744073709551557","method":"trial"}'
launch="$(curl -si -X POST -H "Content-Type: application/json" "$base/eval-launch" -d "$job")"
printf '$ curl -i -X POST -H "Content-Type: application/json" %s/eval-launch -d '\''%s'\''\n%s\n\n' "$base" "$job" "$(tr -d '\r' <<<"$launch")"
href="$(grep -o '"href":"[^"]*"' <<<"$launch" | cut -d'"' -f4)"
show "curl $base$href" curl -s "$base$href"
while curl -s "$base$href" | grep -q '"running"\|"queued"'; do sleep 0.2; done
show "curl $base$href   # a moment later" curl -s "$base$href"
if curl -sf "$base/metrics" >/dev/null; then
  show "curl -s $base/metrics | grep -E '^evald_(requests_total|build_info)'" \
    bash -c "curl -s '$base/metrics' | grep -E '^evald_(requests_total|build_info)'"
fi
