#!/usr/bin/env bash
# Load test of the HTTP API with wrk (Debian package): create-payment and payment-status at 64
# connections against full_bot (release) on SQLite and on PostgreSQL. Prints requests/s, p50,
# p99 and the server's peak RSS. Everything stays on loopback and ends by itself.
# Usage: benches/load/run.sh [seconds]   (needs wrk, python3, and PostgreSQL for the second half)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-15}"
port=18080
token="7000000003:LOAD_test_token"
pg_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
cargo build --release --example full_bot -q
bin="${CARGO_TARGET_DIR:-target}/release/examples/full_bot"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

init_data=$(python3 benches/load/init_data.py "$token")

run_one() { # name database_url
  local name="$1" db="$2"
  # One user creates thousands of payments from one address: lift the abuse limits (and the
  # sandbox needs saying so next to a bot token).
  TELEGRAM_BOT_TOKEN="$token" DATABASE_URL="$db" BIND_ADDR="127.0.0.1:$port" RUST_LOG=warn \
    MINIAPP_SANDBOX=on PUBLIC_BASE_URL="http://127.0.0.1:$port" RATE_LIMIT_PER_MINUTE=0 MAX_OPEN_PAYMENTS=0 \
    "$bin" >"$work/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  local id
  id=$(curl -fs -XPOST "http://127.0.0.1:$port/api/miniapp/create-payment" -H "authorization: tma $init_data" \
        -H 'content-type: application/json' -d '{"credits":500,"amount":"25.00","currency":"USD","payment_method":"card"}' \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["payment_id"])')
  cat >"$work/status.lua" <<LUA
wrk.headers["authorization"] = "tma $init_data"
wrk.path = "/api/miniapp/payment-status/$id"
LUA
  # A new e-mail per request, so each is a new order (the same order again reuses its checkout).
  cat >"$work/create.lua" <<LUA
wrk.method = "POST"
wrk.path = "/api/miniapp/create-payment"
wrk.headers["authorization"] = "tma $init_data"
wrk.headers["content-type"] = "application/json"
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
counter = 0
request = function()
  counter = counter + 1
  local body = '{"credits":500,"amount":"25.00","currency":"USD","payment_method":"card","email":"load' .. tid .. '-' .. counter .. '@example.com"}'
  return wrk.format(nil, nil, nil, body)
end
LUA
  for endpoint in status create; do
    wrk -t2 -c64 -d"${secs}s" --latency -s "$work/$endpoint.lua" "http://127.0.0.1:$port" >"$work/$name-$endpoint.txt"
    local rps p50 p99 non2xx
    rps=$(awk '/Requests\/sec/ {print $2}' "$work/$name-$endpoint.txt")
    p50=$(awk '$1=="50%" {print $2}' "$work/$name-$endpoint.txt")
    p99=$(awk '$1=="99%" {print $2}' "$work/$name-$endpoint.txt")
    non2xx=$(awk '/Non-2xx/ {print $5}' "$work/$name-$endpoint.txt")
    printf '%-10s %-15s %10s %9s %9s %8s\n' "$name" "$endpoint" "$rps" "$p50" "$p99" "${non2xx:-0}"
  done
  local rss
  rss=$(awk '/VmHWM/ {print $2/1024 " MiB"}' "/proc/$pid/status")
  printf '%-10s %-15s peak RSS %s\n' "$name" "server" "$rss"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

printf '%-10s %-15s %10s %9s %9s %8s\n' database endpoint 'req/s' p50 p99 non-2xx
run_one sqlite "sqlite://$work/load.db"
psql "$pg_url" -qc "DROP DATABASE IF EXISTS miniapp_load WITH (FORCE)" -qc "CREATE DATABASE miniapp_load" >/dev/null
run_one postgres "${pg_url%/*}/miniapp_load"
psql "$pg_url" -qc "DROP DATABASE IF EXISTS miniapp_load WITH (FORCE)" >/dev/null
