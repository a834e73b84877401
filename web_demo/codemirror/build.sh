#!/usr/bin/env bash
# Bundles CodeMirror 6 for the browser demo with esbuild, from the npm packages pinned
# in package-lock.json (installed by scripts/setup.sh):
#
#   web_demo/vendor/codemirror.js         the editor core (codemirror.js here)
#   web_demo/vendor/languages/NAME.js     one language each (languages/NAME.js here),
#                                         loaded when the page picks that language
#   web_demo/vendor/chunks/*.js           code these share, split out by esbuild
#
#   bash web_demo/codemirror/build.sh          build web_demo/vendor
#   bash web_demo/codemirror/build.sh --check  fail if web_demo/vendor differs from a
#                                              fresh build
#
# The bundle is committed, so the page needs nothing but a static host, and the build
# is reproducible byte for byte (the same packages and esbuild give the same files).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENDOR="$HERE/../vendor"
ESBUILD="$HERE/node_modules/.bin/esbuild"
if [ ! -x "$ESBUILD" ]; then
    echo "esbuild is missing: run bash scripts/setup.sh (npm ci in web_demo/codemirror)" >&2
    exit 1
fi

build() {
    local out=$1
    rm -rf "$out"
    (cd "$HERE" && "$ESBUILD" codemirror.js languages/*.js --bundle --splitting \
        --format=esm --minify --target=es2020 --log-level=warning --outdir="$out" \
        --entry-names='[dir]/[name]' --chunk-names='chunks/[hash]' \
        --banner:js='/* CodeMirror 6 and Lezer (MIT licence, codemirror.net), bundled by web_demo/codemirror/build.sh */')
}

if [ "${1:-}" = "--check" ]; then
    fresh="$(mktemp -d)"
    trap 'rm -rf "$fresh"' EXIT
    build "$fresh/vendor"
    if ! diff -r "$fresh/vendor" "$VENDOR" >/dev/null; then
        echo "web_demo/vendor differs from a fresh build: run bash web_demo/codemirror/build.sh" >&2
        exit 1
    fi
    echo "web_demo/vendor is up to date"
else
    build "$VENDOR"
fi
