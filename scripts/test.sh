#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, and every unit, property and integration
# test, on the embedded backends and again on PostgreSQL + S3, then the schema-driven
# test (schemathesis) against the served OpenAPI document. Installs and starts what
# it needs from the package registries on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is required (https://rustup.rs)" >&2
  exit 1
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest from crates.io" >&2
  cargo install --locked cargo-nextest
fi

# Debian packages the tests use, installed together (one package-list update):
# - the built-in speech engine (CMU PocketSphinx and its US English model): the
#   transcription tests run it for real. callvault itself builds and runs without it,
#   with transcription off;
# - Chromium and chromedriver: the console's browser tests drive them, and check each
#   main page with axe-core (from npm, under .cache/ like the other test tools).
packages=()
if [ ! -e /usr/share/pocketsphinx/model/en-us/en-us.lm.bin ] \
  || ! ldconfig -p | grep -q libpocketsphinx.so.3; then
  packages+=(libpocketsphinx3 pocketsphinx-en-us)
fi
if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
  packages+=(chromium chromium-driver)
fi
AXE_DIR=.cache/axe-core
if [ ! -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ] && ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
if [ "${#packages[@]}" -gt 0 ]; then
  echo "installing ${packages[*]} from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${packages[@]}" >&2
fi
if [ ! -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ]; then
  echo "installing axe-core from npm" >&2
  mkdir -p "$AXE_DIR"
  (cd "$AXE_DIR" && npm install --no-audit --no-fund --silent axe-core@4.14.1 >&2)
fi

# PostgreSQL and an S3-compatible server on loopback, for the scale-out run and the
# storage crate's PostgreSQL tests: started (and on a fresh machine installed, which is
# mostly waiting on the network) while the lints keep the cores busy.
mkdir -p .cache
./scripts/services.sh > .cache/services.env &
services=$!

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

wait "$services"
eval "$(cat .cache/services.env)"

cargo nextest run --workspace --locked --no-fail-fast
# The same API suite again, every test server on PostgreSQL + S3. Selected with a filter
# over the workspace, not with `-p callvault`: a single package resolves its dependencies'
# features differently, and cargo would build a few minutes of them again.
echo "== the API suite on PostgreSQL + S3 ==" >&2
CALLVAULT_TEST_BACKEND=scaleout cargo nextest run --workspace --locked --no-fail-fast \
  -E 'package(callvault)'
# Generated requests against the served OpenAPI document, on a server with demo data:
# the binary the test build made for the API tests (target/debug/callvault).
echo "== the schema-driven API test (schemathesis) ==" >&2
./scripts/schema-check.sh
