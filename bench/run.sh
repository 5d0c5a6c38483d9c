#!/usr/bin/env bash
# Runs the benchmark: builds callvault and callvault-bench in release mode, installs nginx
# (the download peer) and zip (the bulk download peer) from Debian's packages if they are
# missing, then runs callvault-bench, which prints Markdown tables and writes
# bench/out/results.json.
#
# Arguments go to callvault-bench, e.g. a smoke run:  bench/run.sh --quick --interactions 20000
# or the bulk download alone:                         bench/run.sh --only bulk --bulk-gb 2
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

nginx_bin() {
    command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; }
}

if ! nginx_bin >/dev/null; then
    echo "installing nginx ..." >&2
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get install -y nginx-light || as_root apt-get install -y nginx || {
        as_root apt-get update
        as_root apt-get install -y nginx-light || as_root apt-get install -y nginx
    }
fi
NGINX="$(nginx_bin)" || { echo "nginx is not installed" >&2; exit 1; }

if ! command -v zip >/dev/null; then
    echo "installing zip ..." >&2
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get install -y zip || {
        as_root apt-get update
        as_root apt-get install -y zip
    }
fi
ZIP="$(command -v zip)" || { echo "zip is not installed" >&2; exit 1; }

cargo build --release -p callvault -p callvault-bench

mkdir -p bench/out
exec target/release/callvault-bench --nginx "$NGINX" --zip "$ZIP" --out bench/out "$@"
