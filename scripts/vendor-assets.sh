#!/usr/bin/env bash
# Re-fetches the console's third-party browser code into crates/http/assets/vendor/,
# where the server embeds it (include_bytes!), so that neither building nor running the
# server needs Node. Run it (it needs npm) only to change the pinned version, then
# commit what it wrote.
set -euo pipefail
cd "$(dirname "$0")/.."

WAVESURFER=7.9.9
OUT=crates/http/assets/vendor
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "wavesurfer.js@$WAVESURFER" >/dev/null)
tar xzf "$tmp/wavesurfer.js-$WAVESURFER.tgz" -C "$tmp"
mkdir -p "$OUT"
cp "$tmp/package/dist/wavesurfer.min.js" "$OUT/wavesurfer.min.js"
cp "$tmp/package/LICENSE" "$OUT/wavesurfer.LICENSE"
echo "wavesurfer.js $WAVESURFER (BSD-3-Clause), from npm" >"$OUT/VERSIONS"
echo "vendored wavesurfer.js $WAVESURFER into $OUT" >&2
