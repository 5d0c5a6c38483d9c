#!/usr/bin/env bash
# Starts what the scale-out tests need, on loopback, and prints the variables that point
# the tests at them:
#   - PostgreSQL: the machine's server if one answers on CALLVAULT_TEST_POSTGRES_URL,
#     else Debian's postgresql package, installed and started here;
#   - an S3-compatible server: moto's standalone server from PyPI, in a virtualenv under
#     .cache/, with the test bucket created;
#   - Azurite, Microsoft's Azure Storage emulator, from npm (blob service only).
# All keep their data in memory and listen on loopback; installs are cached in .cache/.
# Usage: eval "$(scripts/services.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL="${CALLVAULT_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
S3_PORT="${CALLVAULT_TEST_S3_PORT:-9123}"
S3_BUCKET="${CALLVAULT_TEST_S3_BUCKET:-callvault-test}"
AZURE_PORT="${CALLVAULT_TEST_AZURE_PORT:-10000}"
CACHE="$PWD/.cache"
mkdir -p "$CACHE"

log() { echo "services: $*" >&2; }

pg_up() { pg_isready -q -d "$PG_URL" 2>/dev/null; }

if ! command -v pg_isready >/dev/null 2>&1 || ! pg_up; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    log "installing PostgreSQL from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
  fi
  version="$(ls /etc/postgresql | sort -V | tail -1)"
  conf="/etc/postgresql/$version/main/pg_hba.conf"
  # Loopback-only trust for the throwaway test server, as on the CI machines.
  if ! grep -q "callvault-test" "$conf"; then
    sed -i '1i host all all 127.0.0.1/32 trust # callvault-test\nlocal all all trust # callvault-test' "$conf"
  fi
  log "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
  for _ in $(seq 1 60); do pg_up && break; sleep 0.5; done
  pg_up || { log "PostgreSQL did not come up on $PG_URL"; exit 1; }
fi
# Databases left by earlier runs of the suite (crates/testkit names them; a test killed
# mid-run never drops its own).
psql -q -d "$PG_URL" -At -c "SELECT datname FROM pg_database WHERE datname LIKE 'callvault\_test\_%'" \
  | while read -r db; do psql -q -d "$PG_URL" -c "DROP DATABASE IF EXISTS \"$db\"" >&2 || true; done

VENV="$CACHE/s3venv"
if [ ! -x "$VENV/bin/moto_server" ]; then
  log "installing moto's S3 server from PyPI"
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q 'moto[server]==5.1.22' >&2
fi
s3_up() { curl -fsS -m 5 -o /dev/null "http://127.0.0.1:$S3_PORT/moto-api/" 2>/dev/null; }
if ! s3_up; then
  log "starting the S3 server on 127.0.0.1:$S3_PORT"
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" </dev/null >"$CACHE/s3.log" 2>&1 &
  disown
  for _ in $(seq 1 60); do s3_up && break; sleep 0.5; done
  s3_up || { log "the S3 server did not come up; see $CACHE/s3.log"; exit 1; }
fi
# Creating an existing bucket answers 409, which is fine.
curl -fsS -o /dev/null -X PUT "http://127.0.0.1:$S3_PORT/$S3_BUCKET" 2>/dev/null || true

AZ_DIR="$CACHE/azurite"
if [ ! -x "$AZ_DIR/node_modules/.bin/azurite-blob" ]; then
  command -v npm >/dev/null 2>&1 || {
    log "installing Node.js and npm from Debian's packages"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2
  }
  log "installing Azurite from npm"
  mkdir -p "$AZ_DIR"
  (cd "$AZ_DIR" && npm install --no-audit --no-fund --silent azurite@3.37.0 >&2)
fi
# Any answer (Azurite refuses unsigned requests with 403) means it is up.
az_up() { curl -sS -m 5 -o /dev/null "http://127.0.0.1:$AZURE_PORT/devstoreaccount1?comp=list" 2>/dev/null; }
if ! az_up; then
  log "starting Azurite on 127.0.0.1:$AZURE_PORT"
  # Every descriptor of the background process goes to the log: a shell left holding this
  # script's stdout would keep `eval "$(scripts/services.sh)"` waiting for ever. The tests'
  # containers are not removed, so a long-lived emulator fills up over repeated runs of the
  # suite (one run writes a few hundred MB): 4 GiB holds a day of them.
  (cd "$CACHE" && exec "$AZ_DIR/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 \
    --blobPort "$AZURE_PORT" --inMemoryPersistence --extentMemoryLimit 4096 \
    --skipApiVersionCheck) </dev/null >"$CACHE/azurite.log" 2>&1 &
  disown
  for _ in $(seq 1 60); do az_up && break; sleep 0.5; done
  az_up || { log "Azurite did not come up; see $CACHE/azurite.log"; exit 1; }
fi

echo "export CALLVAULT_TEST_POSTGRES_URL='$PG_URL'"
echo "export CALLVAULT_TEST_S3_ENDPOINT='http://127.0.0.1:$S3_PORT'"
echo "export CALLVAULT_TEST_S3_BUCKET='$S3_BUCKET'"
echo "export CALLVAULT_TEST_AZURE_ENDPOINT='http://127.0.0.1:$AZURE_PORT/devstoreaccount1'"
