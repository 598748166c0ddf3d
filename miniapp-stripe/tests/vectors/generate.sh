#!/usr/bin/env bash
# Regenerate the Stripe webhook test vectors in this folder:
#   events/*.json, bodies/*        (build_events.py, standard library only)
#   webhook_signatures.json        (gen.mjs with stripe-node, then gen.py with stripe-python)
#
# Needs node (>= 20), npm and python3 (with venv) and access to the npm registry
# and PyPI. Works from any directory; everything it installs goes to a temporary
# directory that is removed on exit. The output is deterministic: run it twice
# and nothing changes.
set -euo pipefail

STRIPE_NODE_VERSION="23.1.0"    # npm "stripe"; pins API version 2026-10-28.endive
STRIPE_PYTHON_VERSION="16.1.0"  # PyPI "stripe"; pins API version 2026-10-28.endive

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/stripe-vectors.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

for tool in node npm python3; do
  command -v "$tool" >/dev/null || { echo "generate.sh: $tool is required" >&2; exit 1; }
done

echo "generate.sh: installing stripe@${STRIPE_NODE_VERSION} (npm) and stripe==${STRIPE_PYTHON_VERSION} (PyPI) into $WORK" >&2
mkdir -p "$WORK/node"
(
  cd "$WORK/node"
  printf '{"name":"stripe-vectors","private":true}\n' > package.json
  npm install --no-audit --no-fund --ignore-scripts --save-exact --loglevel=error \
    "stripe@${STRIPE_NODE_VERSION}" >&2
)
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "stripe==${STRIPE_PYTHON_VERSION}" >&2

python3 "$HERE/build_events.py"

STRIPE_NODE_DIR="$WORK/node" node "$HERE/gen.mjs" "$HERE" "$WORK/node_results.json"
"$WORK/venv/bin/python" "$HERE/gen.py" "$HERE" "$WORK/node_results.json" "$HERE/webhook_signatures.json"

echo "generate.sh: wrote $HERE/webhook_signatures.json" >&2
