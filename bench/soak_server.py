"""Soak test of the language server: a long, random editing session over stdio.

    python bench/soak_server.py [--completions N] [--seed S] [--check-every K]

Starts `python -m server --models-dir ttcc/models` (the shipped models) and plays an
editor: 20 documents in Python, JavaScript and Rust, cut from ttcc/models/samples/,
edited at random (typing runs with a completion after every keystroke, accepted
suggestions, backspaces, pastes over a selection, two places changed in one
didChange, whole-document replacements), closed and reopened along the way; a
closed document is asked for a completion now and then too, and must get none.
Some documents' names need escaping in their URI ("my%20document0.py").

Every K-th answer is checked against a fresh engine session in this process given
the same text and the same document memory (the other open documents of the
language, mirrored here with the server's own MemoryTexts). At the end every
document is closed, and the server's ttcc/status must report no session left.
The table gives the errors, the wrong answers, the speed, the latency of a
keystroke (its didChange sent to the answer received), the server's resident
memory (VmRSS) after warm-up and at the end, and the sessions held.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_server import (  # noqa: E402
    ResponseError,
    StdioServer,
    percentile,
    server_command,
)
from ttcc.engine import Model  # noqa: E402
from ttcc.server.completion import utf16_length  # noqa: E402
from ttcc.server.memory_text import MemoryTexts, memory_group  # noqa: E402
from ttcc.server.settings import Settings  # noqa: E402

MODELS = ROOT / "ttcc" / "models"
EXTENSIONS = {"python": "py", "javascript": "js", "rust": "rs"}
DOCUMENTS = 20
# Typed one keystroke at a time: code characters, a few outside ASCII (one of them two
# UTF-16 units long: positions count those), and a form feed and U+2028, which end a
# line for str.splitlines but not for LSP.
TYPED = "abcdefghijklmnopqrstuvwxyz_ABCDEFXYZ0123456789 .,:;()[]{}=+-*/<>'\"\n    éλ😀\f\u2028"
MIN_CHARS, MAX_CHARS = 200, 4000  # documents are kept this long, so memory can settle
SETTINGS = Settings()  # the server's defaults: what it suggests with


@dataclass
class Document:
    uri: str
    language: str
    text: str
    version: int = 1
    cursor: int = 0  # an offset in text
    suggestion: str = ""  # the last one received


@dataclass
class Figures:
    completions: int = 0
    errors: list[str] = field(default_factory=list)
    checked: int = 0  # answers computed again by a fresh session
    wrong: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds
    seconds: float = 0.0
    warmup: int = 0  # completions before rss_warm_kb was read
    rss_warm_kb: int = 0
    rss_end_kb: int = 0
    rss_peak_kb: int = 0  # the highest reading after warm-up (every 1000 completions)
    # What the engine sessions hold (ttcc/status) then: sessions take memory as they go
    # (the caches of their idle work), and give it back when their document closes, to
    # the allocator, which keeps it for the next: the process's memory does not shrink
    # with them, so their growth is read at their peak.
    sessions_warm_bytes: int = 0
    sessions_peak_bytes: int = 0  # the highest from warm-up to the end (before each close)
    sessions_open: int = 0  # sessions held with every document open, at the end
    sessions_closed: int = 0  # sessions held once all were closed
    documents_closed: int = 0  # documents the server still holds then
    requests_left: int = 0  # requests the server still holds then

    @property
    def rss_growth_mb(self) -> float:
        return (self.rss_end_kb - self.rss_warm_kb) / 1024

    @property
    def sessions_growth_mb(self) -> float:
        return (self.sessions_peak_bytes - self.sessions_warm_bytes) / 2**20

    @property
    def unaccounted_growth_mb(self) -> float:
        """What the server's memory grew by that no engine session holds: a leak shows
        here."""
        return self.rss_growth_mb - self.sessions_growth_mb


def resident_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def lsp_position(text: str, offset: int) -> dict:
    """The LSP position of offset: line, and character in UTF-16 units."""
    start = text.rfind("\n", 0, offset) + 1
    return {"line": text.count("\n", 0, offset), "character": utf16_length(text[start:offset])}


def lsp_range(text: str, start: int, end: int) -> dict:
    return {"start": lsp_position(text, start), "end": lsp_position(text, end)}


class Editor:
    """The client's side: documents, edits sent as the server must apply them, and
    completions asked for and checked."""

    def __init__(self, server: StdioServer, rng: random.Random, check_every: int) -> None:
        self.server = server
        self.rng = rng
        self.check_every = check_every
        self.samples = {
            language: (MODELS / "samples" / f"{language}.{extension}").read_text()
            for language, extension in EXTENSIONS.items()
        }
        self.models = {language: Model.load(MODELS / f"{language}.ttc") for language in EXTENSIONS}
        self.open_documents: dict[str, Document] = {}
        self.closed_documents: dict[str, Document] = {}
        self.memory = MemoryTexts()  # what the server's document memory reads
        self.figures = Figures()

    def snippet(self, language: str, length: int) -> str:
        """length characters of the language's sample, from a random place, wrapping."""
        sample = self.samples[language]
        start = self.rng.randrange(len(sample))
        return (sample[start:] + sample)[:length]

    # Document lifecycle.

    def open(self, document: Document, text: str) -> None:
        document.text, document.version = text, 1  # editors count versions again
        document.cursor = self.rng.randint(0, len(text))
        self.closed_documents.pop(document.uri, None)
        self.open_documents[document.uri] = document
        self.server.open(document.uri, document.language, text)
        self.memory.opened(document.uri, memory_group(document.language, document.uri))

    async def note_session_memory(self) -> None:
        """After warm-up, keeps the sessions' peak memory: it only shrinks as a document
        closes (its session goes), so read just before each close it is exact."""
        if self.figures.warmup:
            held = await sessions_bytes(self.server)
            self.figures.sessions_peak_bytes = max(self.figures.sessions_peak_bytes, held)

    def close(self, document: Document) -> None:
        del self.open_documents[document.uri]
        self.closed_documents[document.uri] = document
        self.server.close(document.uri)
        self.memory.closed(document.uri)

    # Edits: each is one didChange.

    def replace(self, document: Document, start: int, end: int, text: str) -> None:
        change = {"range": lsp_range(document.text, start, end), "text": text}
        self.send_changes(document, [change], document.text[:start] + text + document.text[end:])
        document.cursor = start + len(text)

    def replace_two(self, document: Document, first: int, second: int, text: str) -> None:
        """Insert text at two places (first < second) in one didChange; each change's
        range is in the text the previous one left."""
        once = document.text[:first] + text + document.text[first:]
        second += len(text)
        changes = [
            {"range": lsp_range(document.text, first, first), "text": text},
            {"range": lsp_range(once, second, second), "text": text},
        ]
        self.send_changes(document, changes, once[:second] + text + once[second:])
        document.cursor = second + len(text)

    def replace_all(self, document: Document, text: str) -> None:
        self.send_changes(document, [{"text": text}], text)
        document.cursor = min(document.cursor, len(text))

    def send_changes(self, document: Document, changes: list[dict], new_text: str) -> None:
        document.version += 1
        document.text = new_text
        self.server.change(document.uri, document.version, changes)
        self.memory.changed(document.uri)

    # Completions.

    async def complete(self, document: Document, started: float | None = None) -> None:
        """Ask for a completion at the cursor; started: when the keystroke began."""
        started = time.perf_counter() if started is None else started
        position = lsp_position(document.text, document.cursor)
        try:
            result = await self.server.inline(document.uri, **position)
        except ResponseError as error:
            self.figures.errors.append(str(error))
            result = None
        self.figures.latencies.append(time.perf_counter() - started)
        self.figures.completions += 1
        document.suggestion = self.received(document, position, result)
        if self.figures.completions % self.check_every == 0:
            self.check(document, document.suggestion)

    def received(self, document: Document, position: dict, result: dict | None) -> str:
        if result is None:
            return ""
        (item,) = result["items"]
        if item["range"]["start"] != position or not item["insertText"]:
            self.figures.wrong.append(f"{document.uri} at {position}: {item}")
        return item["insertText"]

    def check(self, document: Document, received: str) -> None:
        """Compare with what a fresh session computes from the same input."""
        prefix, suffix = document.text[: document.cursor], document.text[document.cursor :]
        memory_text = ""
        if SETTINGS.memory_from_open_documents:
            memory_text = self.memory.text_for(
                document.uri, lambda uri: self.open_documents[uri].text
            )
        expected = (
            self.models[document.language]
            .session()
            .complete(
                prefix,
                suffix,
                multiline=SETTINGS.multiline,
                max_chars=SETTINGS.max_chars,
                min_confidence=SETTINGS.min_confidence,
                document_memory=SETTINGS.document_memory,
                memory_text=memory_text,
            )
        )
        self.figures.checked += 1
        if received != expected:
            self.figures.wrong.append(
                f"{document.uri} v{document.version} at {document.cursor}: "
                f"got {received!r}, a fresh session says {expected!r}"
            )

    async def complete_closed(self) -> None:
        document = self.rng.choice(list(self.closed_documents.values()))
        started = time.perf_counter()
        result = await self.server.inline(document.uri, 0, 0)
        self.figures.latencies.append(time.perf_counter() - started)
        self.figures.completions += 1
        if result is not None:
            self.figures.wrong.append(f"closed {document.uri} got {result}")

    # What a user does, one action at a time.

    async def act(self) -> None:
        """One random action on one document, with one or more completions."""
        if self.closed_documents and self.rng.random() < 0.3:
            document = self.rng.choice(list(self.closed_documents.values()))
            if self.rng.random() < 0.2:
                await self.complete_closed()
                return
            same = self.rng.random() < 0.5
            self.open(document, document.text if same else self.fresh_text(document.language))
            await self.complete(document)
            return
        document = self.rng.choice(list(self.open_documents.values()))
        if len(document.text) > MAX_CHARS:
            start = self.rng.randrange(len(document.text) - 1000)
            await self.keystroke(document, start, start + self.rng.randint(200, 1000), "")
            return
        roll = self.rng.random()
        if roll < 0.45:
            await self.type_run(document)
        elif roll < 0.55:
            await self.accept(document)
        elif roll < 0.70 or len(document.text) < MIN_CHARS:
            await self.backspaces(document)
        elif roll < 0.80:
            await self.paste(document)
        elif roll < 0.85:
            await self.change_two_places(document)
        elif roll < 0.87:
            started = time.perf_counter()
            self.replace_all(document, self.fresh_text(document.language))
            await self.complete(document, started)
        elif roll < 0.95:
            document.cursor = self.rng.randint(0, len(document.text))
            await self.complete(document)
        else:
            await self.note_session_memory()
            self.close(document)
            if len(self.open_documents) == 0:
                self.open(document, document.text)

    def fresh_text(self, language: str) -> str:
        return self.snippet(language, self.rng.randint(MIN_CHARS, 2500))

    async def keystroke(self, document: Document, start: int, end: int, text: str) -> None:
        started = time.perf_counter()
        self.replace(document, start, end, text)
        await self.complete(document, started)

    async def type_run(self, document: Document) -> None:
        if self.rng.random() < 0.5:
            document.cursor = self.rng.randint(0, len(document.text))
        for _ in range(self.rng.randint(1, 15)):
            # Half the time the user types what the ghost text shows.
            if document.suggestion and self.rng.random() < 0.5:
                typed = document.suggestion[0]
            else:
                typed = self.rng.choice(TYPED)
            await self.keystroke(document, document.cursor, document.cursor, typed)

    async def accept(self, document: Document) -> None:
        text = document.suggestion or self.rng.choice(TYPED)
        await self.keystroke(document, document.cursor, document.cursor, text)

    async def backspaces(self, document: Document) -> None:
        for _ in range(self.rng.randint(1, 10)):
            if document.cursor == 0:
                break
            await self.keystroke(document, document.cursor - 1, document.cursor, "")

    async def paste(self, document: Document) -> None:
        start = self.rng.randint(0, len(document.text))
        end = min(len(document.text), start + self.rng.randint(0, 80))
        pasted = self.snippet(document.language, self.rng.randint(1, 200))
        await self.keystroke(document, start, end, pasted)

    async def change_two_places(self, document: Document) -> None:
        first, second = sorted(self.rng.randint(0, len(document.text)) for _ in range(2))
        started = time.perf_counter()
        self.replace_two(document, first, second, self.rng.choice(TYPED))
        await self.complete(document, started)


async def soak(
    completions: int,
    seed: int = 0,
    check_every: int = 50,
    warmup: int | None = None,
    command: Sequence[str] | None = None,
    progress: bool = False,
) -> Figures:
    """Run the session against a server started by command (default: `python -m server
    --models-dir ttcc/models`); warmup: completions before the reference memory reading
    (default a tenth)."""
    warmup = completions // 10 if warmup is None else warmup
    rng = random.Random(seed)
    server = StdioServer()
    with tempfile.TemporaryFile() as server_log:
        await server.start(command or server_command(MODELS), {}, stderr=server_log)
        editor = Editor(server, rng, check_every)
        figures = editor.figures
        for index in range(DOCUMENTS):
            language = list(EXTENSIONS)[index % len(EXTENSIONS)]
            # Some names need escaping in a URI, as "my document.py" does.
            name = f"my%20document{index}" if index % 4 == 0 else f"document{index}"
            uri = f"file:///soak/{name}.{EXTENSIONS[language]}"
            editor.open(Document(uri, language, ""), editor.fresh_text(language))
        bar = tqdm(total=completions, unit=" completions", disable=not progress, file=sys.stderr)
        started = time.perf_counter()
        next_reading = warmup
        while figures.completions < completions:
            done = figures.completions
            await editor.act()
            bar.update(figures.completions - done)
            if figures.completions >= next_reading:
                rss = resident_kb(server.pid)
                if next_reading == warmup:
                    figures.warmup, figures.rss_warm_kb = figures.completions, rss
                    figures.sessions_warm_bytes = figures.sessions_peak_bytes = (
                        await sessions_bytes(server))
                figures.rss_peak_kb = max(figures.rss_peak_kb, rss)
                next_reading += 1000
        figures.seconds = time.perf_counter() - started
        bar.close()
        figures.rss_end_kb = resident_kb(server.pid)
        figures.sessions_peak_bytes = max(figures.sessions_peak_bytes,
                                          await sessions_bytes(server))
        await finish(editor)
        await server.stop()
        figures.errors += [f"server said: {shown['message']}" for shown in server.shown]
        server_log.seek(0)
        figures.errors += [
            f"server log: {line}"
            for line in server_log.read().decode(errors="replace").splitlines()
            if " ERROR " in line or "Traceback" in line
        ]
    return figures


async def sessions_bytes(server: StdioServer) -> int:
    return (await server.request("ttcc/status", None))["sessionMemoryBytes"]


async def finish(editor: Editor) -> None:
    """Reopen every document, then close them all, reading ttcc/status each time."""
    for document in list(editor.closed_documents.values()):
        editor.open(document, document.text)
        await editor.complete(document)
    status = await editor.server.request("ttcc/status", None)
    editor.figures.sessions_open = status["sessions"]
    for document in list(editor.open_documents.values()):
        editor.close(document)
    status = await editor.server.request("ttcc/status", None)
    editor.figures.sessions_closed = status["sessions"]
    editor.figures.documents_closed = status["documents"]
    editor.figures.requests_left = status["requestsInFlight"]


def report(figures: Figures) -> str:
    milliseconds = [1000 * seconds for seconds in figures.latencies]
    rows = [
        ("completions", f"{figures.completions:,}"),
        ("errors", f"{len(figures.errors)}"),
        ("answers checked against a fresh session", f"{figures.checked:,}"),
        ("wrong answers", f"{len(figures.wrong)}"),
        ("wall time", f"{figures.seconds:.1f} s"),
        ("completions/s", f"{figures.completions / figures.seconds:.1f}"),
        (
            "keystroke latency median / p90 / p99",
            f"{statistics.median(milliseconds):.2f} / {percentile(milliseconds, 0.9):.2f}"
            f" / {percentile(milliseconds, 0.99):.2f} ms",
        ),
        (f"server RSS after warm-up ({figures.warmup:,} completions)", mb(figures.rss_warm_kb)),
        ("server RSS at the end", mb(figures.rss_end_kb)),
        ("server RSS growth after warm-up", f"{figures.rss_growth_mb:+.2f} MB"),
        ("of which engine sessions held at their peak", f"{figures.sessions_growth_mb:+.2f} MB"),
        ("of which no session holds", f"{figures.unaccounted_growth_mb:+.2f} MB"),
        ("server RSS peak after warm-up", mb(figures.rss_peak_kb)),
        (
            f"sessions held: {DOCUMENTS} documents open / all closed",
            f"{figures.sessions_open} / {figures.sessions_closed}",
        ),
        (
            "documents, requests the server holds at the end",
            f"{figures.documents_closed}, {figures.requests_left}",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    value_width = max(len(value) for _, value in rows)
    lines = [
        f"| {'figure':<{width}} | {'value':>{value_width}} |",
        f"|{'-' * (width + 2)}|{'-' * (value_width + 2)}|",
    ]
    lines += [f"| {name:<{width}} | {value:>{value_width}} |" for name, value in rows]
    lines += [f"error: {error}" for error in figures.errors[:20]]
    lines += [f"wrong: {wrong}" for wrong in figures.wrong[:20]]
    return "\n".join(lines)


def mb(kb: int) -> str:
    return f"{kb / 1024:.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--completions", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--check-every", type=int, default=50, help="check every K-th answer (default 50)"
    )
    args = parser.parse_args()
    figures = asyncio.run(soak(args.completions, args.seed, args.check_every, progress=True))
    print(report(figures))
    failed = figures.errors or figures.wrong or figures.sessions_closed or figures.requests_left
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
