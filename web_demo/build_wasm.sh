#!/usr/bin/env bash
# Builds the engine's two WebAssembly modules: the whole engine (engine_c) for
# WebAssembly, from the same sources as the native build, with clang + wasm-ld
# only: no emscripten, no libc (engine_c/wasm/runtime.c provides malloc, free
# and the mem* functions; engine_c/wasm/api.c the exports web_demo/engine.js uses).
#
#   web_demo/engine.wasm          SIMD128 (-msimd128), for every browser;
#                                 built by clang (CLANG=..., default clang)
#   web_demo/engine-relaxed.wasm  SIMD128 + relaxed SIMD (-mrelaxed-simd): int8
#                                 dot products with relaxed_dot_i8x16_i7x16_add_s;
#                                 built by clang 16 or later (CLANG_RELAXED=...,
#                                 default clang-16, with its wasm-ld)
#
#   bash web_demo/build_wasm.sh           build both modules
#   bash web_demo/build_wasm.sh --check   fail if either module differs from a
#                                         fresh build of the sources
#   bash web_demo/build_wasm.sh --profile OUT   the relaxed module plus
#                                         engine_c/tests/kernel_profile.c, to OUT
#                                         (for bench/bench_kernels.py)
#
# engine.js loads engine-relaxed.wasm where the browser validates it and its
# kernel self-check passes, engine.wasm otherwise.
#
# The builds are reproducible byte for byte: no debug information, names, paths
# or timestamps go into the modules (the same clang version gives the same file).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLANG="${CLANG:-clang}"
CLANG_RELAXED="${CLANG_RELAXED:-clang-16}"

# source_list NAME: that list of engine_c/sources.mk, the engine's one list of its sources.
source_list() {
    sed -n "s/^$1 *= *//p" "$ROOT/engine_c/sources.mk"
}
# shellcheck disable=SC2207  # file names without spaces, one list per line
SOURCES=($(source_list CORE_SRCS) $(source_list WASM_KERNEL_SRCS) $(source_list WASM_RUNTIME_SRCS))
# -ffp-contract=off is part of the engine's definition (engine_c/Makefile).
CFLAGS=(--target=wasm32 -msimd128 -mbulk-memory -O2 -std=c11
        -ffreestanding -nostdlib -ffp-contract=off -fno-math-errno
        -Wall -Wextra -Werror -I.)
# No entry point; only the export_name functions (and the memory) are exported.
# The stack comes first, so that overflowing it traps instead of overwriting data.
LDFLAGS=(-Wl,--no-entry -Wl,--strip-all -Wl,--stack-first -Wl,-z,stack-size=1048576)

need_relaxed_clang() {
    if ! command -v "$CLANG_RELAXED" >/dev/null 2>&1; then
        echo "error: $CLANG_RELAXED is missing: web_demo/engine-relaxed.wasm needs clang 16" \
             "or later (relaxed SIMD) and its wasm-ld." >&2
        echo "On Debian bookworm: apt-get install clang-16 lld-16 (scripts/setup.sh does)," \
             "or set CLANG_RELAXED to another clang >= 16." >&2
        exit 1
    fi
}

build() { # build OUTPUT
    (cd "$ROOT/engine_c" && "$CLANG" "${CFLAGS[@]}" "${LDFLAGS[@]}" -o "$1" "${SOURCES[@]}")
}

build_relaxed() { # build_relaxed OUTPUT [MORE_SOURCES...]
    need_relaxed_clang
    local output="$1"
    shift
    # clang-16 links with the wasm-ld in its own directory (lld-16's).
    (cd "$ROOT/engine_c" && "$CLANG_RELAXED" "${CFLAGS[@]}" -mrelaxed-simd "${LDFLAGS[@]}" \
        -o "$output" "${SOURCES[@]}" "$@")
}

check() { # check FRESH NAME COMPILER
    local target="$ROOT/web_demo/$2"
    if [ ! -f "$target" ]; then
        echo "web_demo/$2 is missing: run bash web_demo/build_wasm.sh" >&2
        return 1
    fi
    if ! cmp -s "$1" "$target"; then
        echo "web_demo/$2 differs from a fresh build of engine_c" \
             "($("$3" --version | head -n 1)):" >&2
        echo "the sources changed since it was built, or it was built with another clang." \
             "Run: bash web_demo/build_wasm.sh" >&2
        return 1
    fi
    echo "web_demo/$2 is up to date"
}

case "${1:-}" in
"")
    need_relaxed_clang
    build "$ROOT/web_demo/engine.wasm"
    echo "built web_demo/engine.wasm ($(wc -c <"$ROOT/web_demo/engine.wasm") bytes)"
    build_relaxed "$ROOT/web_demo/engine-relaxed.wasm"
    echo "built web_demo/engine-relaxed.wasm" \
         "($(wc -c <"$ROOT/web_demo/engine-relaxed.wasm") bytes)"
    ;;
--check)
    need_relaxed_clang
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    build "$tmp/engine.wasm"
    build_relaxed "$tmp/engine-relaxed.wasm"
    status=0
    check "$tmp/engine.wasm" engine.wasm "$CLANG" || status=1
    check "$tmp/engine-relaxed.wasm" engine-relaxed.wasm "$CLANG_RELAXED" || status=1
    exit "$status"
    ;;
--profile)
    [ $# -eq 2 ] || { echo "usage: bash web_demo/build_wasm.sh --profile OUTPUT" >&2; exit 2; }
    build_relaxed "$(realpath -m "$2")" tests/kernel_profile.c
    ;;
*)
    echo "usage: bash web_demo/build_wasm.sh [--check | --profile OUTPUT]" >&2
    exit 2
    ;;
esac
