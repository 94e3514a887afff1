#!/usr/bin/env bash
# Kill campaign (issue 8): SIGKILLs `feedwright run` at least KILLS times, at random moments and at the publish
# moment, against a slow local site that grows between runs (scripts/kill_site.py: every request answered after
# 50-300 ms). After every kill the state passes `PRAGMA integrity_check`, every feed file parses and never has
# fewer items than before, and temporary files are counted; a final unkilled run must publish every article exactly
# once in each feed. The checks are in scripts/kill_campaign.py; it prints the counts and fails when one fails.
#
# Usage: scripts/kill-campaign.sh          (env: KILLS=120 SEED=8 MIN_MS=50 MAX_MS=300 BIN=path/to/feedwright)
# Needs python3 (standard library) on Linux (inotify). Builds the release binary into $CARGO_TARGET_DIR or target/
# unless BIN is given. Takes a few minutes; not part of `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

KILLS=${KILLS:-120}
SEED=${SEED:-8}
MIN_MS=${MIN_MS:-50}
MAX_MS=${MAX_MS:-300}
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN="${CARGO_TARGET_DIR:-target}/release/feedwright"
fi
BIN=$(realpath "$BIN")

work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

python3 scripts/kill_site.py --articles 5 --min-ms "$MIN_MS" --max-ms "$MAX_MS" --port-file "$work/port" \
  --lifetime 3600 &
server_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
site="http://127.0.0.1:$(cat "$work/port")"

mkdir "$work/run"
echo "machine: $(nproc) cores, $(uname -sr); binary: $BIN; $KILLS kills, ${MIN_MS}-${MAX_MS} ms per request, seed $SEED"
python3 scripts/kill_campaign.py --bin "$BIN" --site "$site" --work "$work/run" --kills "$KILLS" --seed "$SEED" \
  --mean-latency "$(python3 -c "print(($MIN_MS + $MAX_MS) / 2000)")"
