#!/usr/bin/env bash
# Installs everything ttcc needs on a fresh Debian machine (run as root):
# Debian packages, a virtual environment in .venv with the project (which
# compiles the C engine through cffi), its training and test extras, and the
# VS Code extension's npm packages and code-server (scripts/setup_vscode.sh), the
# demo's editor packages (web_demo/codemirror) and onnxruntime-web for
# bench/bench_peers.py (bench/web).
set -euo pipefail
cd "$(dirname "$0")/.."

# clang-16 and lld-16: web_demo/engine-relaxed.wasm needs clang >= 16 (relaxed SIMD);
# bookworm's default clang (14) builds engine.wasm.
# g++, libkrb5-dev, ripgrep: code-server's native modules and its ripgrep (vscode_client/).
# libclang-rt-14-dev: libFuzzer for clang 14 (engine_c/fuzz, scripts/fuzz.sh).
# gcc-aarch64-linux-gnu, libc6-dev-arm64-cross (only recommended by the former),
# qemu-user: the NEON kernel test, built for AArch64 and run under qemu-aarch64
# (make -C engine_c test-kernels-arm).
# neovim: its built-in LSP client against the installed wheel (tests/packaging/test_neovim.py).
# wasi-libc, libclang-rt-{14,16}-dev-wasm32: the C kernel test built for WebAssembly (WASI),
# run by node and Chromium (make -C engine_c wasm-test-kernels, wasm-test-kernels-relaxed).
APT_PACKAGES=(clang lld clang-16 lld-16 make nodejs chromium g++ libkrb5-dev ripgrep
              libclang-rt-14-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user neovim
              wasi-libc libclang-rt-14-dev-wasm32 libclang-rt-16-dev-wasm32)
missing=()
for package in "${APT_PACKAGES[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    python3 -m venv .venv
fi
echo "==> installing ttcc into .venv (builds the C engine)"
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e ".[train,test]"

bash scripts/setup_vscode.sh

source scripts/npm_ci_once.sh
# CodeMirror and esbuild (web_demo/codemirror/build.sh rebuilds the committed bundle),
# axe-core (the demo's accessibility test)
npm_ci_once web_demo/codemirror --ignore-scripts
# onnxruntime-web, the in-browser peer of bench/bench_peers.py
npm_ci_once bench/web --ignore-scripts
