"""ttcc's language server (pygls): `python -m server`, `python -m ttcc.server` or `ttcc-server`."""
