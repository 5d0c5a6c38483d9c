#!/usr/bin/env bash
# The schema-driven API test: schemathesis (from PyPI, in a virtualenv under .cache/)
# runs every check against the served /openapi.json of a real server with demo data,
# positive and negative examples, a fixed seed and a bounded number of examples per
# operation, and fails on any failure. Passes: bearer tokens for the OAuth APIs, the
# Interaction Content reads again once per version of the Accept header, and HTTP Basic
# for the Recordings files API. The operation that rotates the Basic credentials
# (POST /admin/tenant/api-token) is left out so the run keeps the credentials it uses.
# Usage: scripts/schema-check.sh   (after a debug build of callvault: the workspace's test
# build makes one, as does `cargo build -p callvault`)
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="$PWD/.cache"
VENV="$CACHE/stvenv"
EXAMPLES="${CALLVAULT_SCHEMA_EXAMPLES:-25}"
if [ ! -x "$VENV/bin/st" ]; then
  echo "schema-check: installing schemathesis from PyPI" >&2
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q "schemathesis==3.39.16" "hypothesis==6.112.0" >&2
fi

BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/callvault"
if [ ! -x "$BIN" ]; then
  echo "schema-check: no $BIN; build it first (cargo build -p callvault)" >&2
  exit 1
fi
DATA="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
OUT="$DATA/server.out"
"$BIN" --data-dir "$DATA/vault" serve --demo --listen "127.0.0.1:$PORT" >"$OUT" 2>"$DATA/server.err" &
SERVER=$!
cleanup() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT
for _ in $(seq 1 180); do
  grep -q "cvtt_" "$OUT" 2>/dev/null && curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
  sleep 1
done
TOKEN="$(grep -o 'cvat_[A-Za-z0-9_-]*' "$OUT" | head -1)"
BASIC="$(grep -o "demo:cvtt_[A-Za-z0-9_-]*" "$OUT" | head -1)"
[ -n "$TOKEN" ] && [ -n "$BASIC" ] || { echo "schema-check: the demo server did not start" >&2; cat "$DATA/server.err" >&2; exit 1; }

ST=("$VENV/bin/st" run "http://127.0.0.1:$PORT/openapi.json" --experimental=openapi-3.1
    --checks all -D all --hypothesis-seed=1 --hypothesis-max-examples="$EXAMPLES"
    --hypothesis-suppress-health-check=all --hypothesis-database=none --workers 2 --no-color
    --exclude-path-regex 'api-token')
echo "== schemathesis: bearer-token APIs ==" >&2
"${ST[@]}" -H "Authorization: Bearer $TOKEN" --exclude-path-regex '^/api/recordings'
# Without a versioned Accept header the Interaction Content API's reads answer 400 (which
# the pass above checks); these passes ask for each version, so the pages they get (the
# search's documented start/end examples make one valid request) are checked against the
# media types the document gives them.
for V in 2 3; do
  echo "== schemathesis: Interaction Content reads, Accept v$V ==" >&2
  "${ST[@]}" -H "Authorization: Bearer $TOKEN" -H "Accept: application/vnd.newvoicemedia.v$V+json" \
    --include-name 'GET /interaction-content/interactions' \
    --include-name 'GET /interaction-content/interactions/{guid}'
done
echo "== schemathesis: the Recordings files API (HTTP Basic) ==" >&2
"${ST[@]}" --auth "$BASIC" --include-path-regex '^/api/recordings'
