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

# The built-in speech engine (CMU PocketSphinx and its US English model, from Debian's
# packages): the transcription tests run it for real. callvault itself builds and runs
# without it, with transcription off.
if [ ! -e /usr/share/pocketsphinx/model/en-us/en-us.lm.bin ] \
  || ! ldconfig -p | grep -q libpocketsphinx.so.3; then
  echo "installing PocketSphinx from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq libpocketsphinx3 pocketsphinx-en-us >&2
fi

# The console's browser tests drive Debian's Chromium through chromedriver, and check
# each main page with axe-core (from npm, under .cache/ like the other test tools).
if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
  echo "installing Chromium and chromedriver from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq chromium chromium-driver >&2
fi
AXE_DIR=.cache/axe-core
if [ ! -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ]; then
  command -v npm >/dev/null 2>&1 || {
    echo "installing Node.js and npm from Debian's packages" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2
  }
  echo "installing axe-core from npm" >&2
  mkdir -p "$AXE_DIR"
  (cd "$AXE_DIR" && npm install --no-audit --no-fund --silent axe-core@4.14.1 >&2)
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

# PostgreSQL and an S3-compatible server on loopback, for the scale-out run and the
# storage crate's PostgreSQL tests.
eval "$(./scripts/services.sh)"

cargo nextest run --workspace --locked --no-fail-fast
# The same API suite again, every test server on PostgreSQL + S3.
echo "== the API suite on PostgreSQL + S3 ==" >&2
CALLVAULT_TEST_BACKEND=scaleout cargo nextest run -p callvault --locked --no-fail-fast
# Generated requests against the served OpenAPI document, on a server with demo data.
echo "== the schema-driven API test (schemathesis) ==" >&2
cargo build -p callvault --locked
./scripts/schema-check.sh
