#!/usr/bin/env bash
# Times the official Node and Python libraries on the work of our Rust benches (README.md here).
# Prints one JSON object {"node": {...}, "python": {...}} on stdout and nothing else; progress
# goes to stderr. Works from any directory.
#
# First run: `npm ci` here and a venv at ${TMPDIR:-/tmp}/miniapp-bench-venv with
# requirements.txt (npm registry and PyPI needed). Later runs reuse both without any network
# as long as package-lock.json / requirements.txt are unchanged (a stamp file records them).
#
# Environment: BENCH_SECONDS (default 3) measuring time per figure; MINIAPP_BENCH_VENV to put
# the venv elsewhere.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${MINIAPP_BENCH_VENV:-${TMPDIR:-/tmp}/miniapp-bench-venv}"
log() { echo "run.sh: $*" >&2; }

for tool in node npm python3 sha256sum; do
  command -v "$tool" >/dev/null || { log "$tool is required"; exit 1; }
done

# --- Node packages -----------------------------------------------------------------------------
npm_stamp="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1) node-$(node --version)"
if [ "$(cat "$here/node_modules/.miniapp-bench-stamp" 2>/dev/null || true)" = "$npm_stamp" ]; then
  log "node_modules up to date"
else
  log "npm ci in $here"
  (cd "$here" && npm ci --no-audit --no-fund --ignore-scripts --prefer-offline --loglevel=error >/dev/null)
  printf '%s\n' "$npm_stamp" >"$here/node_modules/.miniapp-bench-stamp"
fi

# --- Python venv -------------------------------------------------------------------------------
py_stamp="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1) $(python3 -c 'import sys; print(sys.version.split()[0])')"
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.miniapp-bench-stamp" 2>/dev/null || true)" = "$py_stamp" ]; then
  log "venv $venv up to date"
else
  if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.miniapp-bench-stamp" ] ||
    [ "$(cut -d' ' -f2 "$venv/.miniapp-bench-stamp")" != "$(cut -d' ' -f2 <<<"$py_stamp")" ]; then
    log "creating venv $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
  fi
  log "installing requirements.txt into $venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
  printf '%s\n' "$py_stamp" >"$venv/.miniapp-bench-stamp"
fi

# --- Benchmarks (one after the other: they must not share the cores) ----------------------------
log "node_bench.mjs (2 figures, ${BENCH_SECONDS:-3} s of batches each, plus warm-up)"
node_json="$(node "$here/node_bench.mjs")"
log "python_bench.py (2 figures, ${BENCH_SECONDS:-3} s of batches each, plus warm-up)"
python_json="$("$venv/bin/python" "$here/python_bench.py")"

# --- Combine, checking both signed the same init data ------------------------------------------
NODE_JSON="$node_json" PYTHON_JSON="$python_json" python3 - <<'EOF'
import json, os, sys

node = json.loads(os.environ["NODE_JSON"])
python = json.loads(os.environ["PYTHON_JSON"])
for key in ("init_data_bytes", "init_data_sha256", "stripe_body_bytes"):
    if node["inputs"][key] != python["inputs"][key]:
        sys.exit(f"run.sh: node and python disagree on {key}: "
                 f"{node['inputs'][key]} vs {python['inputs'][key]}")
print(json.dumps({"node": node, "python": python}, indent=2))
EOF
