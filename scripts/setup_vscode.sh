#!/usr/bin/env bash
# Installs what the VS Code extension (vscode_client/) needs to build and to be tested:
# its npm packages (exact versions from package-lock.json) and, for the end-to-end
# test, code-server (VS Code in a browser) in vscode_client/e2e. Called by setup.sh
# after the Debian packages are in; each step is skipped while its lock file is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/npm_ci_once.sh

# @vscode/ripgrep (a code-server dependency) downloads rg from GitHub at install time;
# its download cache gets Debian's rg instead. Version and asset name follow the
# @vscode/ripgrep release that code-server's npm-shrinkwrap.json pins.
ripgrep_cache() {
    local cache=$1 target
    case "$(uname -m)" in
        x86_64) target=x86_64-unknown-linux-musl ;;
        aarch64) target=aarch64-unknown-linux-musl ;;
        *) echo "no ripgrep cache for $(uname -m)" >&2; return 1 ;;
    esac
    local dir="$cache/vscode-ripgrep-cache-1.15.11"
    local asset="$dir/ripgrep-v13.0.0-10-$target.tar.gz"
    if [ ! -f "$asset" ]; then
        mkdir -p "$dir"
        tar -czf "$asset" -C /usr/bin rg
    fi
}

# code-server 4.100.3 (VS Code 1.100) is the last release for Node 20, which it requires.
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" != 20 ] || ! command -v npm >/dev/null; then
    echo "vscode_client needs Node 20 with npm (found node $(node --version), npm: $(command -v npm || echo none))" >&2
    exit 1
fi

npm_ci_once vscode_client --ignore-scripts  # no script is needed: esbuild finds its binary package

# code-server's install script refuses root without unsafe-perm, then runs `npm install`
# in its lib/vscode, which builds native modules (kerberos needs libkrb5-dev; node-pty's
# build fetches node-gyp, hence npm_config_yes).
cache="$PWD/vscode_client/e2e/.cache"
mkdir -p "$cache"
ripgrep_cache "$cache"
TMPDIR="$cache" npm_config_yes=true npm_config_unsafe_perm=true npm_ci_once vscode_client/e2e
