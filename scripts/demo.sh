#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and serves the browser demo on localhost.
# PORT (default 8000) picks the port.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash web_demo/build_wasm.sh  # reproducible: rebuilds the committed engine.wasm bit for bit
port="${PORT:-8000}"
# The page loads ../ttcc/models/NAME.ttc: serve the repository root.
echo "ttcc demo: http://localhost:${port}/web_demo/   (the language server: .venv/bin/python -m server)"
exec .venv/bin/python -m http.server "$port" --bind 127.0.0.1
