#!/usr/bin/env bash
# Builds web_demo/engine.wasm: the whole engine (engine_c) for WebAssembly,
# from the same sources as the native build, with clang + wasm-ld only: no
# emscripten, no libc (engine_c/wasm/runtime.c provides malloc, free and the
# mem* functions; engine_c/wasm/api.c the exports web_demo/engine.js uses).
#
#   bash web_demo/build_wasm.sh           build web_demo/engine.wasm
#   bash web_demo/build_wasm.sh --check   fail if web_demo/engine.wasm differs
#                                         from a fresh build of the sources
#
# The build is reproducible byte for byte: no debug information, names, paths
# or timestamps go into the module (the same clang version gives the same file).
# CLANG=... picks another clang.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="$ROOT/web_demo/engine.wasm"
CLANG="${CLANG:-clang}"

SOURCES=(model.c math.c text.c forward.c session.c
         kernels_generic.c kernels_wasm.c kernels_select.c
         wasm/runtime.c wasm/api.c)
# -ffp-contract=off is part of the engine's definition (engine_c/Makefile).
CFLAGS=(--target=wasm32 -msimd128 -mbulk-memory -O2 -std=c11
        -ffreestanding -nostdlib -ffp-contract=off -fno-math-errno
        -Wall -Wextra -Werror -I.)
# No entry point; only the export_name functions (and the memory) are exported.
# The stack comes first, so that overflowing it traps instead of overwriting data.
LDFLAGS=(-Wl,--no-entry -Wl,--strip-all -Wl,--stack-first -Wl,-z,stack-size=1048576)

build() { # build OUTPUT
    (cd "$ROOT/engine_c" && "$CLANG" "${CFLAGS[@]}" "${LDFLAGS[@]}" -o "$1" "${SOURCES[@]}")
}

case "${1:-}" in
"")
    build "$TARGET"
    echo "built web_demo/engine.wasm ($(wc -c <"$TARGET") bytes)"
    ;;
--check)
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    build "$tmp/engine.wasm"
    if [ ! -f "$TARGET" ]; then
        echo "web_demo/engine.wasm is missing: run bash web_demo/build_wasm.sh" >&2
        exit 1
    fi
    if ! cmp -s "$tmp/engine.wasm" "$TARGET"; then
        echo "web_demo/engine.wasm differs from a fresh build of engine_c" \
             "($("$CLANG" --version | head -n 1)):" >&2
        echo "the sources changed since it was built, or it was built with another clang." \
             "Run: bash web_demo/build_wasm.sh" >&2
        exit 1
    fi
    echo "web_demo/engine.wasm is up to date"
    ;;
*)
    echo "usage: bash web_demo/build_wasm.sh [--check]" >&2
    exit 2
    ;;
esac
