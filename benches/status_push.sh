#!/usr/bin/env bash
# The payment-status push measured from outside (benches/status_push.rs): cross-instance push
# latency, 10,000 waiting requests on one instance, and reads per payment, waiting vs polling.
# Needs PostgreSQL at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test); the bench
# makes and drops a database of its own. Prints a markdown table on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
# 10,000 held connections on each side, plus the pools and the load.
want=$(( ${PUSH_WAITING:-10000} + 4000 ))
if [ "$(ulimit -n)" -lt "$want" ]; then
  ulimit -n "$want" 2>/dev/null || {
    echo "status_push: the open-file limit is $(ulimit -n) (hard $(ulimit -Hn)); it needs $want" >&2
    exit 1
  }
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build -q --release -p miniapp --example full_bot
cargo bench -q -p miniapp --bench status_push --no-run
FULL_BOT="$CARGO_TARGET_DIR/release/examples/full_bot" cargo bench -q -p miniapp --bench status_push
