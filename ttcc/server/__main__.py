"""python -m server (or ttcc-server, python -m ttcc.server): the ttcc language server,
LSP over stdio by default."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ttcc import __version__
from ttcc.adapted import default_adapted_dir
from ttcc.engine import ENGINE_VERSION
from ttcc.server.settings import DEFAULT_MODELS_DIR, Settings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m server",
        description="ttcc language server: inline code completions from a tiny transformer "
        "running on this machine (LSP textDocument/inlineCompletion, with "
        "textDocument/completion as a fallback).",
    )
    transport = parser.add_mutually_exclusive_group()
    transport.add_argument(
        "--stdio", action="store_true", help="talk LSP over stdin/stdout (the default)"
    )
    transport.add_argument(
        "--tcp", metavar="HOST:PORT", help="listen for one LSP client on this TCP address"
    )
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=DEFAULT_MODELS_DIR,
        help="directory of NAME.ttc model files (default: the models that come with ttcc, "
        f"{DEFAULT_MODELS_DIR})",
    )
    adapted = parser.add_mutually_exclusive_group()
    adapted.add_argument(
        "--adapted-dir",
        type=Path,
        default=default_adapted_dir(),
        help="where models adapted to projects (python -m training.adapt) are kept: a "
        "document inside an adapted project uses its model (default: the user's cache, "
        f"{default_adapted_dir()})",
    )
    adapted.add_argument(
        "--no-adapted-models", action="store_true", help="use the shipped models only"
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        # Some editors (Neovim) show every stderr line as an error: by default only
        # problems go there.
        help="how much to log to stderr (default: warning); stdout stays LSP's alone",
    )
    parser.add_argument(
        "--version", action="version", version=f"ttcc {__version__} (engine {ENGINE_VERSION})"
    )
    args = parser.parse_args(argv)
    if args.tcp is not None:
        host, _, port = args.tcp.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            parser.error(f"--tcp expects HOST:PORT, got {args.tcp!r}")
        args.host, args.port = host, int(port)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.log_level != "debug":  # pygls logs every message it sends at info level
        logging.getLogger("pygls").setLevel(logging.WARNING)
    from ttcc.server.lsp import create_server  # after logging is set up: it loads the engine

    adapted_dir = None if args.no_adapted_models else args.adapted_dir.expanduser().resolve()
    server = create_server(Settings(models_dir=args.models_dir.resolve(),
                                    adapted_dir=adapted_dir))
    if args.tcp is not None:
        server.start_tcp(args.host, args.port)
    else:
        server.start_io()


if __name__ == "__main__":
    main()
