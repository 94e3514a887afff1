#!/usr/bin/env bash
# Benchmarks `feedwright serve` with wrk on loopback: a synthetic 50-item Atom feed (~130 KB, written by
# examples/bench_feed.rs), keep-alive connections, three runs: plain 200s, gzip 200s and 304 revalidations.
# FROM says where serve finds the feed: `file` (no state: the file in the output folder), `sqlite` (the copy kept
# in a SQLite state) or `postgres` (the copy kept in a scratch PostgreSQL server, scripts/lib/postgres.sh).
# Installs wrk with apt when missing; every wrk run is bounded (DURATION, and `timeout` around it).
# Usage: scripts/bench-serve.sh   (env: FROM=file DURATION=10s THREADS=2 CONNECTIONS=32 PORT=18181)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/postgres.sh

DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-18181}
FROM=${FROM:-file}
TARGET=${CARGO_TARGET_DIR:-target}

if ! command -v wrk >/dev/null; then
  echo "== installing wrk"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

echo "== building (release)"
cargo build --release --locked --quiet --bin feedwright --example bench_feed

work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  pg_stop
  rm -rf "$work"
}
trap cleanup EXIT

case "$FROM" in
  file) "$TARGET/release/examples/bench_feed" "$work" ;;
  sqlite) "$TARGET/release/examples/bench_feed" "$work" state/feedwright.sqlite ;;
  postgres)
    chmod 755 "$work"
    pg_start "$work/pg"
    pg_sql "CREATE DATABASE bench"
    "$TARGET/release/examples/bench_feed" "$work" "$(pg_url bench)"
    ;;
  *) echo "FROM is file, sqlite or postgres" >&2; exit 2 ;;
esac
"$TARGET/release/feedwright" --quiet --config "$work/feedwright.toml" serve --addr "127.0.0.1:$PORT" &
pid=$!

url="http://127.0.0.1:$PORT/wic-news.atom"
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "$url" 2>/dev/null && break
  sleep 0.1
done
etag=$(curl -fsS -D - -o /dev/null "$url" | tr -d '\r' | awk -F': ' 'tolower($1) == "etag" {print $2}')

echo "== feed from: $FROM; machine: $(nproc) cores, $(uname -srm); wrk -t$THREADS -c$CONNECTIONS -d$DURATION (keep-alive)"
echo "== 200, identity: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency $url"
timeout 120 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$url"
echo "== 200, gzip: wrk ... -H 'Accept-Encoding: gzip' $url"
timeout 120 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H 'Accept-Encoding: gzip' "$url"
echo "== 304: wrk ... -H 'If-None-Match: $etag' $url"
timeout 120 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "If-None-Match: $etag" "$url"
