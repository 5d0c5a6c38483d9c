#!/usr/bin/env bash
# Runs the benchmark: builds callvault and callvault-bench in release mode, installs nginx
# (the download peer) and zip (the bulk download peer) from Debian's packages if they are
# missing, then runs callvault-bench, which prints Markdown tables and writes
# bench/out/results.json. When the export or scale phase is asked for (`--only export`,
# `--only scale`), it also installs rclone (the export's peer) and starts PostgreSQL and
# the S3 server with scripts/services.sh; for the console phase (`--only console`) it
# installs Debian's Chromium and chromedriver.
#
# Arguments go to callvault-bench, e.g. a smoke run:  bench/run.sh --quick --interactions 20000
# or the bulk download alone:                         bench/run.sh --only bulk --bulk-gb 2
# or the export to S3 alone:                          bench/run.sh --only export --export-gb 2
# or the console in a browser:                        bench/run.sh --only console
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

# The phases named by --only (export and scale run only when named).
only=""
prev=""
for arg in "$@"; do
    case "$arg" in
        --only=*) only="$only,${arg#--only=}" ;;
        *) [ "$prev" = "--only" ] && only="$only,$arg" ;;
    esac
    prev="$arg"
done
wants() { case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

RCLONE_ARGS=()
if wants export; then
    if ! command -v rclone >/dev/null; then
        echo "installing rclone ..." >&2
        export DEBIAN_FRONTEND=noninteractive
        as_root apt-get install -y rclone || {
            as_root apt-get update
            as_root apt-get install -y rclone
        }
    fi
    RCLONE_ARGS=(--rclone "$(command -v rclone)")
fi
if wants console && ! { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }; then
    echo "installing Chromium and chromedriver ..." >&2
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get install -y chromium chromium-driver || {
        as_root apt-get update
        as_root apt-get install -y chromium chromium-driver
    }
fi
if wants export || wants scale; then
    # PostgreSQL and the S3 server; exports CALLVAULT_TEST_{POSTGRES_URL,S3_ENDPOINT,S3_BUCKET},
    # which callvault-bench reads.
    eval "$(scripts/services.sh)"
fi

cargo build --release -p callvault -p callvault-bench

mkdir -p bench/out
exec "${CARGO_TARGET_DIR:-target}/release/callvault-bench" --nginx "$NGINX" --zip "$ZIP" "${RCLONE_ARGS[@]}" --out bench/out "$@"
