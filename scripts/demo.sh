#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and serves the browser demo on localhost.
# PORT (default 8000) picks the port.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ ! -f web_demo/index.html ]; then
    echo "The engine and its Python API are installed in .venv; the browser demo (web_demo/) is not built yet." >&2
    exit 1
fi
port="${PORT:-8000}"
echo "ttcc demo: http://localhost:${port}/"
exec .venv/bin/python -m http.server "$port" --bind 127.0.0.1 --directory web_demo
