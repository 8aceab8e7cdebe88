#!/usr/bin/env bash
# Prints the README's curl tour ("## A curl tour") from a live server, so the README shows
# real output; tests/docs/readme_tour_test.sh runs it and compares it with the README
# (ids, times and counts masked). Usage:
#   bash scripts/readme_tour.sh > /tmp/tour.txt     (the release build on port 8080)
#   EVALD_BIN=build/dev/evald PORT=18080 bash scripts/readme_tour.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${EVALD_BIN:-$root/build/release/evald}"
port="${PORT:-8080}"
# The URLs the README shows (what `make run` listens on), whatever port this run uses.
shown="http://127.0.0.1:8080"
base="http://127.0.0.1:$port"
out="$(mktemp)"
"$bin" --config "$root/config/evald.json" --listen "127.0.0.1:$port" >"$out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 200); do grep -q listening "$out" && break; sleep 0.05; done

# show COMMAND-AS-SHOWN REAL-COMMAND...: "$ shown" then the real command's output (CRs
# dropped, one blank line after).
show() {
  local text=$1
  shift
  printf '$ %s\n%s\n\n' "${text//$base/$shown}" "$("$@" | tr -d '\r')"
}
# headers_and_body URL [curl args...]: the status line, Content-Type and Server-Timing
# (the headers the tour is about), a blank line and the body.
headers_and_body() {
  curl -si "$@" | tr -d '\r' | awk 'NR == 1 || /^(Content-Type|Server-Timing):/ {print; next}
    /^$/ {body = 1; print; next} body {print}'
}

show "curl $base/prime?n=100109100129100151" curl -s "$base/prime?n=100109100129100151"
show "curl \"$base/prime?n=100109100129101027&method=trial\"" \
  curl -s "$base/prime?n=100109100129101027&method=trial"
show "curl -i \"$base/prime?n=18446744073709551616\"" \
  headers_and_body "$base/prime?n=18446744073709551616"
show "curl $base/factor?n=100109100129101027" curl -s "$base/factor?n=100109100129101027"
batch='{"items":[{"workload":"prime","n":"97"},{"workload":"factor","n":"12"},{"workload":"prime","n":"x"}]}'
show "curl -X POST -H \"Content-Type: application/json\" $base/eval -d '$batch'" \
  curl -s -X POST -H "Content-Type: application/json" "$base/eval" -d "$batch"
map='{"workload":"script","source":"return input.x // input.y","inputs":[{"x":7,"y":2},{"x":1,"y":0}]}'
show "curl -X POST -H 'Content-Type: application/json' $base/eval -d '$map'" \
  curl -s -X POST -H "Content-Type: application/json" "$base/eval" -d "$map"
show "curl -i \"$base/prime?n=18446744073709551557&method=trial&timeout_ms=100\"" \
  headers_and_body "$base/prime?n=18446744073709551557&method=trial&timeout_ms=100"
job='{"workload":"prime","n":"18446744073709551557","method":"trial"}'
launch="$(curl -s -X POST -H "Content-Type: application/json" "$base/eval-launch" -d "$job")"
printf '$ curl -X POST -H "Content-Type: application/json" %s/eval-launch -d '\''%s'\''\n%s\n\n' \
  "$shown" "$job" "$launch"
href="$(grep -o '"href":"[^"]*"' <<<"$launch" | cut -d'"' -f4)"
for _ in $(seq 600); do
  curl -s "$base$href" | grep -q '"running"\|"queued"' || break
  sleep 0.1
done
show "curl $base$href   # a moment later" curl -s "$base$href"
printf '$ curl -s %s/chargen | head -c 146   # RFC 864, chunked until the client closes\n%s\n' \
  "$shown" "$(curl -s "$base/chargen" | head -c 146 | tr -d '\r')"
