#!/usr/bin/env bash
# Fetch speed within politeness: a cold `feedwright run` (empty state, fresh process) against a generated local site
# of 50 articles that answers every request after 30 ms (scripts/bench_site.py), at per-host concurrency 1, 2 and 4.
# Prints a Markdown table: wall time (median of RUNS runs) and peak RSS from /usr/bin/time -v, requests counted by
# the server, and the latency floor = (serial requests + ceil(articles / concurrency)) x latency, where the serial
# requests are robots.txt and the listing page.
#
# Usage: scripts/bench-fetch.sh            (env: ARTICLES=50 LATENCY_MS=30 RUNS=5 CONCURRENCY="1 2 4")
# Needs python3 and GNU time (`apt-get install time`). Builds the release binary into $CARGO_TARGET_DIR or target/.
set -euo pipefail
cd "$(dirname "$0")/.."

ARTICLES=${ARTICLES:-50}
LATENCY_MS=${LATENCY_MS:-30}
RUNS=${RUNS:-5}
CONCURRENCY=${CONCURRENCY:-1 2 4}
SERIAL=2 # robots.txt, then the listing page; the articles follow in parallel

[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/feedwright"

work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

python3 scripts/bench_site.py --articles "$ARTICLES" --latency-ms "$LATENCY_MS" --port-file "$work/port" \
  --lifetime 600 &
server_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
site="http://127.0.0.1:$port"
get() { python3 -c "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())" "$1"; }

config() {
  cat >"$work/feedwright.toml" <<EOF
[settings]
output_dir = "feeds"
state = "state/feedwright.sqlite"
concurrency = $1
formats = ["atom", "rss", "json"]

[[source]]
id = "bench"
title = "Bench"
url = "$site/news/index.htm"
timezone = "Asia/Shanghai"
max_items = 100

[source.listing]
item = "div.list li"
links = "h4 > a"
date = "span.date"

[source.article]
title = "h1"
date = "div.info span.time"
content = "#Content"
EOF
}

echo "machine: $(nproc) cores, $(uname -sr); $ARTICLES articles, ${LATENCY_MS} ms per request, median of $RUNS cold runs"
echo
echo "| per-host concurrency | wall time | latency floor | wall / floor | peak RSS | requests (server) | max in flight (server) |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for c in $CONCURRENCY; do
  config "$c"
  walls=()
  rss_max=0
  for _ in $(seq "$RUNS"); do
    rm -rf "$work/feeds" "$work/state"
    get "$site/_reset" >/dev/null
    /usr/bin/time -v "$bin" --quiet --config "$work/feedwright.toml" run 2>"$work/time.txt" ||
      { cat "$work/time.txt" >&2; exit 1; }
    # "Elapsed (wall clock) time (h:mm:ss or m:ss): 0:00.52"
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$work/time.txt")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
    walls+=("$wall")
    [ "$rss" -gt "$rss_max" ] && rss_max=$rss
  done
  stats=$(get "$site/_stats")
  wall=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
  python3 - "$c" "$wall" "$rss_max" "$stats" "$ARTICLES" "$LATENCY_MS" "$SERIAL" <<'PY'
import json, math, sys
c, wall, rss_kb, stats, articles, latency_ms, serial = sys.argv[1:]
c, wall, articles, latency, serial = int(c), float(wall), int(articles), float(latency_ms) / 1000, int(serial)
stats = json.loads(stats)
floor = (serial + math.ceil(articles / c)) * latency
print(f"| {c} | {wall:.2f} s | {floor:.2f} s | {wall / floor:.2f}x | {int(rss_kb) / 1024:.1f} MiB "
      f"| {stats['requests']} | {stats['max_in_flight']} |")
PY
done
