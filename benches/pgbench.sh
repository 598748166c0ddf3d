#!/usr/bin/env bash
# pgbench's built-in tpcb-like script on the same server and the same client counts as the
# ledger_apply bench, for the ratio in benches/README.md.
# Usage: benches/pgbench.sh [postgres://postgres@127.0.0.1:5432/test]
set -euo pipefail
url="${1:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}}"
server="${url%/*}"
db="miniapp_pgbench"
psql "$url" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -qc "CREATE DATABASE $db"
pgbench -q -i -s 10 "$server/$db" >/dev/null 2>&1
printf '%-8s %s\n' clients tps
for c in 1 8 32; do
  tps=$(pgbench -n -b tpcb-like -c "$c" -j 2 -T 10 "$server/$db" 2>/dev/null | awk '/^tps/ {print $3; exit}')
  printf '%-8s %s\n' "$c" "$tps"
done
psql "$url" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
