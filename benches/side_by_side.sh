#!/usr/bin/env bash
# The side-by-side table of benches/README.md, produced in one run on one machine (issue 8):
#   init-data verification  vs @telegram-apps/init-data-node validate (Node), aiogram
#                              check_webapp_signature (Python) and one raw HMAC-SHA256
#   Stripe webhook          vs stripe-node constructEvent and stripe-python construct_event
#   ledger apply            vs pgbench tpcb-like, 8 clients, same PostgreSQL
#   payment-status (HTTP)   vs a plain axum JSON endpoint (examples `plain_axum`), wrk 64 conns
#   full_bot RSS idle and loaded, and the cold build time of the demo (`cargo build --example
#   full_bot` into an empty target dir, the build `cargo run --example full_bot` does).
#   Issue 17's rows: init data on the real production vector vs one raw HMAC over its own
#   data-check-string; Stripe verify + map vs the signature alone (and serde_json's floor);
#   the status push (benches/status_push.sh: cross-instance latency, 10,000 waiting requests,
#   reads per payment), its table printed after this one.
# Everything runs one after the other so no two measurements share the cores.
#
# Usage: benches/side_by_side.sh            (needs wrk, pgbench, node, npm, python3, PostgreSQL)
# Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), LOAD_SECONDS
# (default 15), BENCH_SECONDS (default 3, for Node and Python), SKIP_COLD_BUILD=1 to leave out
# the cold build (it takes minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
pg_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
pg_server="${pg_url%/*}"
secs="${LOAD_SECONDS:-15}"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; done
  psql "$pg_url" -qc "DROP DATABASE IF EXISTS miniapp_side WITH (FORCE)" >/dev/null 2>&1 || true
  psql "$pg_url" -qc "DROP DATABASE IF EXISTS miniapp_side_pgbench WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
log() { echo "side_by_side: $*" >&2; }
for tool in wrk pgbench psql node npm python3 curl; do
  command -v "$tool" >/dev/null || { log "$tool is required"; exit 1; }
done
declare -A r # results, printed as one table at the end

# --- The machine -----------------------------------------------------------------------------
r[cpu]=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
r[cores]=$(nproc)
r[mem]=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
r[kernel]=$(uname -r)
r[rustc]=$(rustc --version | cut -d' ' -f2)
r[pg]=$(psql "$pg_url" -tAc "SHOW server_version" | cut -d' ' -f1)
r[load_before]=$(cut -d' ' -f1 /proc/loadavg)

# --- Builds first, so that no build runs during a measurement ----------------------------------
log "building (release example, benches)"
cargo build -q --release --example full_bot --example plain_axum
cargo bench -q --no-run -p miniapp-core --bench init_data_verify 2>/dev/null
cargo bench -q --no-run -p miniapp-stripe --bench stripe_webhook_verify 2>/dev/null
cargo bench -q --no-run -p miniapp-sqlx --bench ledger_apply 2>/dev/null
cargo bench -q --no-run -p miniapp --bench status_push 2>/dev/null

median_ns() { # criterion dir under target/criterion
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["median"]["point_estimate"])' \
    "$CARGO_TARGET_DIR/criterion/$1/new/estimates.json"
}

# Figures are read from criterion's files: remove old ones so a bench that did not run cannot
# leave a previous run's number in the table (a missing file then stops the script).
rm -rf "$CARGO_TARGET_DIR/criterion/init_data_verify" "$CARGO_TARGET_DIR/criterion/init_data_verify_real" \
  "$CARGO_TARGET_DIR/criterion/stripe_webhook_verify" \
  "$CARGO_TARGET_DIR/criterion/ledger_apply_postgres"

# --- Rust micro benchmarks -----------------------------------------------------------------------
log "criterion: init_data_verify, stripe_webhook_verify"
cargo bench -q -p miniapp-core --bench init_data_verify -- --warm-up-time 1 --measurement-time 3 >/dev/null 2>&1
cargo bench -q -p miniapp-stripe --bench stripe_webhook_verify -- --warm-up-time 1 --measurement-time 3 >/dev/null 2>&1
r[rust_hmac]=$(median_ns init_data_verify/raw_hmac_sha256_over_dcs)
r[rust_init_pre]=$(median_ns init_data_verify/verify_precomputed_secret)
r[rust_init_token]=$(median_ns init_data_verify/verify_from_token)
r[rust_stripe]=$(median_ns stripe_webhook_verify/verify_and_map_event)
r[rust_stripe_sig]=$(median_ns stripe_webhook_verify/verify_signature_only)
r[rust_stripe_floor]=$(median_ns stripe_webhook_verify/serde_json_skip_whole_body)
r[rust_real_hmac]=$(median_ns init_data_verify_real/raw_hmac_sha256_over_dcs)
r[rust_real_pre]=$(median_ns init_data_verify_real/verify_precomputed_secret)

# --- The official libraries ----------------------------------------------------------------------
log "Node and Python libraries (benches/compare/run.sh)"
benches/compare/run.sh >"$work/compare.json"
read -r 'r[node_init]' 'r[node_stripe]' 'r[py_init]' 'r[py_stripe]' 'r[node_v]' 'r[py_v]' < <(python3 - "$work/compare.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
n, p = d["node"], d["python"]
print(n["init_data_validate_ns"], n["stripe_construct_event_ns"],
      p["init_data_check_webapp_signature_ns"], p["stripe_construct_event_ns"],
      n["node"], p["python"])
EOF
)

# --- Ledger vs pgbench, 8 clients, same server ----------------------------------------------------
log "ledger_apply (PostgreSQL, 8 tasks) and pgbench (8 clients)"
DATABASE_URL="$pg_url" cargo bench -q -p miniapp-sqlx --bench ledger_apply -- 'postgres/8$' >/dev/null 2>&1
r[ledger_8]=$(python3 -c "print(round(1e9 / $(median_ns ledger_apply_postgres/8)))")
psql "$pg_url" -qc "DROP DATABASE IF EXISTS miniapp_side_pgbench WITH (FORCE)" -qc "CREATE DATABASE miniapp_side_pgbench"
pgbench -q -i -s 10 "$pg_server/miniapp_side_pgbench" >/dev/null 2>&1
r[pgbench_8]=$(pgbench -n -b tpcb-like -c 8 -j 2 -T 10 "$pg_server/miniapp_side_pgbench" 2>/dev/null | awk '/^tps/ {printf "%.0f", $3; exit}')

# --- HTTP: payment-status vs a plain axum endpoint; RSS -----------------------------------------
wait_for() { # url
  for _ in $(seq 1 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  log "$1 did not come up"; exit 1
}
listening_on() { # log file
  for _ in $(seq 1 100); do
    grep -m1 -o 'listening on http://[0-9.:]*' "$1" 2>/dev/null | cut -d' ' -f3 && return 0
    sleep 0.1
  done
  log "no 'listening on' line in $1"; exit 1
}
wrk_run() { # name url lua
  wrk -t2 -c64 -d"${secs}s" --latency ${3:+-s "$3"} "$2" >"$work/$1.txt"
  r[${1}_rps]=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$work/$1.txt")
  r[${1}_p50]=$(awk '$1=="50%" {print $2}' "$work/$1.txt")
  r[${1}_p99]=$(awk '$1=="99%" {print $2}' "$work/$1.txt")
  r[${1}_errors]=$(awk '/Non-2xx/ {print $5}' "$work/$1.txt")
}
token="7000000003:SIDE_by_side_token"
psql "$pg_url" -qc "DROP DATABASE IF EXISTS miniapp_side WITH (FORCE)" -qc "CREATE DATABASE miniapp_side"
log "full_bot on PostgreSQL: idle RSS, then payment-status under wrk"
# A bot token as in production; the Bot API address is closed (no network here), so the bot
# keeps retrying in the background while the HTTP side is measured. The card goes through the
# sandbox (a bot with a token needs MINIAPP_SANDBOX=on for that, and an https or loopback
# PUBLIC_BASE_URL).
TELEGRAM_BOT_TOKEN="$token" TELEGRAM_API_URL="http://127.0.0.1:9" DATABASE_URL="$pg_server/miniapp_side" \
  MINIAPP_SANDBOX=on PUBLIC_BASE_URL=http://127.0.0.1:9 \
  BIND_ADDR=127.0.0.1:0 RUST_LOG=error "$CARGO_TARGET_DIR/release/examples/full_bot" >"$work/full_bot.log" 2>&1 &
bot_pid=$!
pids+=("$bot_pid")
base=$(listening_on "$work/full_bot.log")
wait_for "$base/healthz"
sleep 2 # idle: let start-up allocations settle before reading RSS
r[rss_idle]=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$bot_pid/status")
init_data=$(python3 benches/load/init_data.py "$token")
id=$(curl -fs -XPOST "$base/api/miniapp/create-payment" -H "authorization: tma $init_data" \
  -H 'content-type: application/json' -d '{"credits":500,"amount":"25.00","currency":"USD","payment_method":"card"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["payment_id"])')
cat >"$work/status.lua" <<EOF
wrk.headers["authorization"] = "tma $init_data"
wrk.path = "/api/miniapp/payment-status/$id"
EOF
wrk_run status "$base" "$work/status.lua"
r[rss_loaded]=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$bot_pid/status")
kill "$bot_pid"; wait "$bot_pid" 2>/dev/null || true
pids=()

log "plain axum endpoint under wrk"
"$CARGO_TARGET_DIR/release/examples/plain_axum" >"$work/plain.log" 2>&1 &
plain_pid=$!
pids+=("$plain_pid")
plain=$(listening_on "$work/plain.log")
wait_for "$plain/status/$id"
wrk_run plain "$plain/status/$id"
kill "$plain_pid"; wait "$plain_pid" 2>/dev/null || true
pids=()

# --- The status push: its own table (benches/status_push.rs) ------------------------------------
log "status push: two full_bot instances on PostgreSQL (benches/status_push.sh)"
PUSH_LOAD_SECONDS="$secs" benches/status_push.sh >"$work/push.md"

# --- Cold build of the demo ------------------------------------------------------------------------
if [ "${SKIP_COLD_BUILD:-}" = 1 ]; then
  r[cold_build]="skipped"
else
  log "cold build: cargo build --example full_bot into an empty target dir"
  cold="$work/cold-target"
  t0=$(date +%s)
  CARGO_TARGET_DIR="$cold" cargo build -q --example full_bot
  r[cold_build]="$(( $(date +%s) - t0 )) s"
  rm -rf "$cold"
fi
r[load_after]=$(cut -d' ' -f1 /proc/loadavg)
r[push_table]="$work/push.md"

# --- The table -----------------------------------------------------------------------------------
for k in "${!r[@]}"; do printf '%s\t%s\n' "$k" "${r[$k]}"; done >"$work/results.tsv"
python3 - "$work/results.tsv" <<'EOF'
import sys
r = dict(line.rstrip("\n").split("\t", 1) for line in open(sys.argv[1]))
f = lambda k: float(r[k])
us = lambda ns: f"{ns / 1000:.2f} µs"
def verdict(ok): return "met" if ok else "**missed**"
def ms(s):  # wrk prints 1.23ms / 950.00us / 1.02s
    for unit, scale in (("ms", 1), ("us", 1e-3), ("s", 1e3)):
        if s.endswith(unit):
            return float(s[: -len(unit)]) * scale
    return float(s)

print(f"Machine: {r['cpu']}, {r['cores']} cores, {r['mem']}; Linux {r['kernel']}; rustc {r['rustc']}; "
      f"PostgreSQL {r['pg']}; Node {r['node_v']}; Python {r['py_v']}. "
      f"Load average {r['load_before']} before, {r['load_after']} after.\n")
print("| work | miniapp | compared with | ratio | target |")
print("|---|---|---|---|---|")
ni, pi, ri = f("node_init"), f("py_init"), f("rust_init_token")
print(f"| init data, verify from the token | {us(ri)} | init-data-node `validate` {us(ni)} | {ni/ri:.1f}× faster | ≥ 20×: {verdict(ni/ri >= 20)} |")
print(f"| init data, verify from the token | {us(ri)} | aiogram `check_webapp_signature` {us(pi)} | {pi/ri:.1f}× faster | ≥ 50×: {verdict(pi/ri >= 50)} |")
rp, h = f("rust_init_pre"), f("rust_hmac")
print(f"| init data, verify (secret kept) | {us(rp)} | one raw HMAC-SHA256 {us(h)} | {rp/h:.2f}× the HMAC | ≤ 3×: {verdict(rp/h <= 3)} |")
rr, rh = f("rust_real_pre"), f("rust_real_hmac")
print(f"| init data, real production vector, verify (secret kept) | {us(rr)} | one raw HMAC-SHA256 over its data-check-string {us(rh)} | {rr/rh:.2f}× the HMAC | ≤ 4×: {verdict(rr/rh <= 4)} |")
ns, ps, rs = f("node_stripe"), f("py_stripe"), f("rust_stripe")
print(f"| Stripe webhook, verify + parse | {us(rs)} | stripe-node `constructEvent` {us(ns)} | {ns/rs:.2f}× faster | ≥ 3× (issue 17): {verdict(ns/rs >= 3)}; ≥ 10× (issue 8): {verdict(ns/rs >= 10)} |")
print(f"| Stripe webhook, verify + parse | {us(rs)} | stripe-python `construct_event` {us(ps)} | {ps/rs:.1f}× faster | — |")
sig, floor = f("rust_stripe_sig"), f("rust_stripe_floor")
print(f"| Stripe webhook, verify + map | {us(rs)} | the signature alone {us(sig)} | {rs/sig:.2f}× the signature | ≤ 2×: {verdict(rs/sig <= 2)} |")
print(f"| Stripe webhook, serde_json reading the body and keeping nothing (floor) | {us(floor)} | the signature alone {us(sig)} | {floor/sig:.2f}× the signature | — |")
l, pg = f("ledger_8"), f("pgbench_8")
print(f"| ledger apply, PostgreSQL, 8 tasks | {l:,.0f}/s | pgbench tpcb-like, 8 clients {pg:,.0f} tps | {l/pg:.2f}× | ≥ 0.5×: {verdict(l/pg >= 0.5)} |")
s, p = f("status_rps"), f("plain_rps")
print(f"| payment-status, wrk 64 conns | {s:,.0f} req/s, p50 {r['status_p50']}, p99 {r['status_p99']} | plain axum JSON {p:,.0f} req/s, p99 {r['plain_p99']} | {s/p:.2f}× | ≥ 0.3×: {verdict(s/p >= 0.3)}; p99 < 10 ms: {verdict(ms(r['status_p99']) < 10)} |")
print(f"| full_bot RSS | idle {r['rss_idle']} MiB, peak under load {r['rss_loaded']} MiB | — | — | idle ≤ 30 MiB: {verdict(f('rss_idle') <= 30)} |")
print(f"| cold build, `cargo build --example full_bot` | {r['cold_build']} | — | — | — |")
print("\nThe status push (benches/status_push.sh), same run:\n")
print(open(r["push_table"]).read().rstrip())
errors = [k for k in ("status_errors", "plain_errors") if r.get(k)]
if errors:
    print(f"\nNon-2xx answers during the load runs: {', '.join(f'{k}={r[k]}' for k in errors)}")
EOF
