"""What the language server adds to the engine's keystroke latency.

    python bench/bench_server.py [--keystrokes N]

A real LSP client starts `python -m server` over stdio with a seed-size model
(random weights: speed does not depend on them), opens a 2000-character
Python document and types at its end; each keystroke is a didChange of one
character followed by an inlineCompletion request, timed from sending the
change to receiving the answer. The same keystrokes go straight to the engine
in this process, side by side, and the table gives both and the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_engine import SUGGESTION_CHARS, document  # noqa: E402
from server.engine import Model  # noqa: E402

URI = "file:///bench.py"
OPTIONS = {"minConfidence": 0.0, "maxChars": SUGGESTION_CHARS}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[round(share * (len(ordered) - 1))]


class ServerDocument:
    """A document open in a `python -m server` subprocess, typed into at its end."""

    def __init__(self, text: str) -> None:
        self.client = LanguageClient("ttcc-bench", "1")
        self.line, self.column = text.count("\n"), len(text) - text.rfind("\n") - 1
        self.version = 1
        self.text = text

    async def start(self, models: Path) -> None:
        await self.client.start_io(sys.executable, "-m", "server", "--models-dir", str(models))
        await self.client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(), initialization_options={"ttcc": OPTIONS}
            )
        )
        self.client.initialized(types.InitializedParams())
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=URI, language_id="python", version=1, text=self.text
                )
            )
        )

    async def type(self, character: str) -> str:
        """didChange of one character at the end, then inlineCompletion there."""
        at = types.Position(line=self.line, character=self.column)
        self.version += 1
        self.column += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=self.version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=at, end=at), text=character
                    )
                ],
            )
        )
        result = await self.client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=URI),
                position=types.Position(line=self.line, character=self.column),
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Automatic
                ),
            )
        )
        return result.items[0].insert_text if result else ""

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()


async def measure(models: Path, text: str, keystrokes: int) -> tuple[list[float], list[float]]:
    """Keystroke latencies of the engine in this process and of the server, taking
    turns keystroke by keystroke so that both see the same machine."""
    server = ServerDocument(text)
    await server.start(models)
    session = Model.load(models / "python.ttc").session()
    suggestion = session.complete(text, max_chars=SUGGESTION_CHARS, min_confidence=0.0)
    await server.type("#")  # warm up the server's session, then undo the difference
    session.complete(text + "#", max_chars=SUGGESTION_CHARS, min_confidence=0.0)
    text += "#"
    engine_times, server_times = [], []
    for _ in range(keystrokes):
        typed = "z" if suggestion[:1] != "z" else "q"  # never the suggested character
        text += typed
        start = time.perf_counter()
        suggestion = session.complete(text, max_chars=SUGGESTION_CHARS, min_confidence=0.0)
        engine_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        served = await server.type(typed)
        server_times.append(time.perf_counter() - start)
        assert served == suggestion, "the server and the engine disagree"
    await server.stop()
    return engine_times, server_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keystrokes", type=int, default=300)
    args = parser.parse_args()
    text = document(2000)
    with tempfile.TemporaryDirectory() as directory:
        models = Path(directory)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "training.export",
                "--random",
                "--preset",
                "seed",
                "--out",
                str(models / "python.ttc"),
            ],
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        engine, server = asyncio.run(measure(models, text, args.keystrokes))

    print(
        f"{args.keystrokes} keystrokes at the end of a 2000-character document, "
        f"suggestions of {SUGGESTION_CHARS} characters\n"
    )
    print("| path                         | median ms | p95 ms |")
    print("|------------------------------|-----------|--------|")
    for name, values in (("engine (in process)", engine), ("server over LSP stdio", server)):
        print(
            f"| {name:<28} | {1000 * statistics.median(values):9.2f} "
            f"| {1000 * percentile(values, 0.95):6.2f} |"
        )
    added = 1000 * (statistics.median(server) - statistics.median(engine))
    print(f"\nthe server adds {added:.2f} ms at the median")


if __name__ == "__main__":
    main()
