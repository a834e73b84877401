"""What the language server adds to the engine's keystroke latency.

    python bench/bench_server.py [--keystrokes N]

An LSP client starts `python -m server` over stdio with a seed-size model
(random weights: speed does not depend on them), opens a 2000-character
Python document and types at its end; each keystroke is a didChange of one
character followed by an inlineCompletion request, timed from sending the
change to receiving the answer. The same keystrokes go straight to the engine
in this process, side by side, and the table gives both and the difference.

StdioServer, the client, also serves bench/soak_server.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_engine import SUGGESTION_CHARS, document, export_seed_model  # noqa: E402
from ttcc.engine import Model  # noqa: E402

URI = "file:///bench.py"
OPTIONS = {"minConfidence": 0.0, "maxChars": SUGGESTION_CHARS}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[round(share * (len(ordered) - 1))]


def server_command(models: Path) -> list[str]:
    return [sys.executable, "-m", "server", "--models-dir", str(models)]


class ResponseError(Exception):
    """The server answered a request with an error."""


class StdioServer:
    """A language server in a subprocess, and a minimal JSON-RPC client over its pipes,
    so that the time measured is the server's, not a client library's. Requests are
    answered one at a time, in order."""

    def __init__(self) -> None:
        self.next_id = 0
        self.shown: list[dict] = []  # the params of the server's window/showMessage

    async def start(
        self, command: Sequence[str], options: dict, stderr: IO[bytes] | None = None
    ) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=stderr, cwd=ROOT,
        )  # fmt: skip
        await self.request("initialize", {"capabilities": {}, "initializationOptions": options})
        self.notify("initialized", {})

    @property
    def pid(self) -> int:
        return self.process.pid

    def notify(self, method: str, params: object) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    async def request(self, method: str, params: object) -> object:
        self.next_id += 1
        self._send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:  # the server's notifications come in between
            message = await self._receive()
            if message.get("method") == "window/showMessage":
                self.shown.append(message["params"])
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise ResponseError(f"{method}: {message['error']}")
                return message.get("result")

    def open(self, uri: str, language: str, text: str, version: int = 1) -> None:
        document = {"uri": uri, "languageId": language, "version": version, "text": text}
        self.notify("textDocument/didOpen", {"textDocument": document})

    def change(self, uri: str, version: int, changes: list[dict]) -> None:
        """changes: LSP content changes ({"range", "text"}, or {"text"} for all of it)."""
        self.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": changes},
        )

    def close(self, uri: str) -> None:
        self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})

    async def inline(self, uri: str, line: int, character: int) -> dict | None:
        """The inlineCompletion answer at (line, character): {"items": [...]}, or None."""
        return await self.request(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": uri},
                "position": {"line": line, "character": character},
                "context": {"triggerKind": 2},  # automatic
            },
        )

    async def stop(self) -> None:
        await self.request("shutdown", None)
        self.notify("exit", None)
        await self.process.wait()

    def _send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def _receive(self) -> dict:
        length = 0
        while (line := await self.process.stdout.readline()) != b"\r\n":
            if not line:
                raise ConnectionError("the server closed its output")
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return json.loads(await self.process.stdout.readexactly(length))


class ServerDocument:
    """A document open in a `python -m server` subprocess, typed into at its end."""

    def __init__(self, text: str) -> None:
        self.line, self.column = text.count("\n"), len(text) - text.rfind("\n") - 1
        self.version = 1
        self.text = text
        self.server = StdioServer()

    async def start(self, models: Path) -> None:
        await self.server.start(server_command(models), OPTIONS)
        self.server.open(URI, "python", self.text)

    async def type(self, character: str) -> str:
        """didChange of one character at the end, then inlineCompletion there."""
        at = {"line": self.line, "character": self.column}
        self.version += 1
        self.column += 1
        change = {"range": {"start": at, "end": at}, "text": character}
        self.server.change(URI, self.version, [change])
        result = await self.server.inline(URI, self.line, self.column)
        return result["items"][0]["insertText"] if result else ""

    async def stop(self) -> None:
        await self.server.stop()


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
