"""What the language server adds to the engine's keystroke latency.

    python bench/bench_server.py [--keystrokes N]

An LSP client starts `python -m server` over stdio with a seed-size model
(random weights: speed does not depend on them), opens a 2000-character
Python document and types at its end; each keystroke is a didChange of one
character followed by an inlineCompletion request, timed from sending the
change to receiving the answer. The same keystrokes go straight to the engine
in this process, side by side, and the table gives both and the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_engine import SUGGESTION_CHARS, document, export_seed_model  # noqa: E402
from server.engine import Model  # noqa: E402

URI = "file:///bench.py"
OPTIONS = {"minConfidence": 0.0, "maxChars": SUGGESTION_CHARS}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[round(share * (len(ordered) - 1))]


class ServerDocument:
    """A document open in a `python -m server` subprocess, typed into at its end.

    The client is a minimal JSON-RPC writer and reader over the subprocess's pipes,
    so that the time measured is the server's, not a client library's."""

    def __init__(self, text: str) -> None:
        self.line, self.column = text.count("\n"), len(text) - text.rfind("\n") - 1
        self.version = 1
        self.text = text
        self.next_id = 0

    async def start(self, models: Path) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "server", "--models-dir", str(models),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        await self.request("initialize", {"capabilities": {}, "initializationOptions": OPTIONS})
        self.notify("initialized", {})
        document = {"uri": URI, "languageId": "python", "version": 1, "text": self.text}
        self.notify("textDocument/didOpen", {"textDocument": document})

    def notify(self, method: str, params: dict) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    async def request(self, method: str, params: dict | None) -> object:
        self.next_id += 1
        self._send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:  # skip the server's notifications (log messages)
            message = await self._receive()
            if message.get("id") == self.next_id:
                return message.get("result")

    def _send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def _receive(self) -> dict:
        length = 0
        while (line := await self.process.stdout.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return json.loads(await self.process.stdout.readexactly(length))

    async def type(self, character: str) -> str:
        """didChange of one character at the end, then inlineCompletion there."""
        at = {"line": self.line, "character": self.column}
        self.version += 1
        self.column += 1
        self.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": URI, "version": self.version},
                "contentChanges": [{"range": {"start": at, "end": at}, "text": character}],
            },
        )
        result = await self.request(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": URI},
                "position": {"line": self.line, "character": self.column},
                "context": {"triggerKind": 2},
            },
        )
        return result["items"][0]["insertText"] if result else ""

    async def stop(self) -> None:
        await self.request("shutdown", None)
        self.notify("exit", None)
        await self.process.wait()


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
        export_seed_model(models, "python.ttc")
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
