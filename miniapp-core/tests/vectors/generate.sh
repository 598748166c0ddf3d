#!/usr/bin/env bash
# Regenerates init_data.json (see README.md). Needs node >= 20, npm, python3 with venv, and
# access to the npm registry and PyPI. Works from any directory; touches nothing but
# init_data.json next to this script.
set -euo pipefail

NODE_PACKAGE="@telegram-apps/init-data-node"
NODE_PACKAGE_VERSION="2.0.10"
AIOGRAM_VERSION="3.31.0"
CRYPTOGRAPHY_VERSION="50.0.2"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "generate.sh: node >= 20 is needed (WebCrypto Ed25519), found $(node --version)" >&2
  exit 1
fi

# --- Node: the pinned package, its dependencies pinned too through overrides. -----------------
cat >"$tmp/package.json" <<EOF
{
  "name": "miniapp-core-init-data-vectors",
  "private": true,
  "type": "module",
  "dependencies": { "$NODE_PACKAGE": "$NODE_PACKAGE_VERSION" },
  "overrides": {
    "@telegram-apps/transformers": "2.2.6",
    "@telegram-apps/toolkit": "2.1.3",
    "@telegram-apps/types": "2.0.3",
    "error-kid": "0.0.7",
    "valibot": "1.0.0-beta.14"
  }
}
EOF
(cd "$tmp" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
# gen.mjs must sit next to node_modules for its imports to resolve.
cp "$here/gen.mjs" "$tmp/gen.mjs"

# --- Python: aiogram with its Ed25519 extra. ---------------------------------------------------
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --disable-pip-version-check \
  "aiogram[signature]==$AIOGRAM_VERSION" "cryptography==$CRYPTOGRAPHY_VERSION"
"$tmp/venv/bin/python" - <<'EOF'
from aiogram.utils.web_app import check_webapp_signature as hmac_check
from aiogram.utils.web_app_signature import check_webapp_signature as ed25519_check
assert callable(hmac_check) and callable(ed25519_check)
EOF

# --- Build, sign, verify, write. ---------------------------------------------------------------
node "$tmp/gen.mjs" >"$tmp/node_cases.json"
"$tmp/venv/bin/python" "$here/gen.py" "$tmp/node_cases.json" "$tmp/init_data.json"
mv "$tmp/init_data.json" "$here/init_data.json"
echo "generate.sh: wrote $here/init_data.json" >&2
