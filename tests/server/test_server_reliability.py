"""The language server under load and under attack, end to end over stdio.

- A short soak (bench/soak_server.py's editing session): no error, no wrong answer,
  no memory growth, every session released on close.
- Concurrency: requests for many documents in flight at once, edits, closes and
  reopens while a completion waits or runs, $/cancelRequest storms: an answer is
  never stale and never another document's.
- Security: a client that names files, directories, modules and code (in URIs,
  languageIds, settings, texts) gets the server to read nothing but the text it
  sends and the models directory of the command line, to run nothing and to connect
  nowhere. An audit hook in the server process (sys.addaudithook) records what it
  opens, imports, compiles, runs and connects to.
- No network: completions from a server in a network namespace of its own.

Most tests use "letters" models, scripted so that a document ending in a capital
letter gets that letter in lower case and its language's mark: "B" gives "b!" in
Python, "b?" in JavaScript, "b;" in Rust and "b#" from the base model.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcRequestCancelled
from pytest_lsp import ClientServerConfig, LanguageClient

from bench.soak_server import soak
from tests.network import NO_NETWORK
from tests.scripted_model import export_scripted
from tests.server.test_server import configure, initialized, insert, open_document, suggestion
from ttcc.engine import Model
from ttcc.server.completion import lsp_lines

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_MODELS = ROOT / "ttcc" / "models"
CAPITALS = "ABCDEFGHIJKLMNOPQRST"
MARKS = {"python": "!", "javascript": "?", "rust": ";", "base": "#"}
EXTENSIONS = {"python": "py", "javascript": "js", "rust": "rs"}


def export_letters(path: Path, mark: str) -> None:
    export_scripted(
        path,
        {
            **{capital: capital.lower() for capital in CAPITALS},
            **{capital.lower(): mark for capital in CAPITALS},
            mark: "<EOS>",
        },
    )


LETTERS = Path(tempfile.mkdtemp(prefix="ttcc-letters-models-"))
for model_name, model_mark in MARKS.items():
    export_letters(LETTERS / f"{model_name}.ttc", model_mark)
# What a client would like the server to load instead: every capital gives "9".
DECOY = Path(tempfile.mkdtemp(prefix="ttcc-decoy-models-"))
for model_name in MARKS:
    export_scripted(DECOY / f"{model_name}.ttc", {c: "9" for c in CAPITALS} | {"9": "<EOS>"})


def expected(language: str, text: str) -> str:
    """What the letters models suggest at the end of text."""
    return text[-1].lower() + MARKS[language]


# Long suggestions from the shipped models: the engine runs for a while.
ENGINE_OPTIONS = {"multiline": True, "maxChars": 256, "minConfidence": 0.0}


def server_command(models: Path) -> list[str]:
    return [sys.executable, "-m", "server", "--models-dir", str(models)]


async def status(client: LanguageClient) -> dict:
    """The server's ttcc/status."""
    answer = await client.protocol.send_request_async("ttcc/status", None)
    return answer._asdict()  # pygls gives a custom request's answer as a namedtuple


async def until_in_flight(client: LanguageClient, count: int) -> None:
    """Wait until the server holds count requests."""
    for _ in range(200):
        if (await status(client))["requestsInFlight"] == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the server never held {count} requests")


def close_document(client: LanguageClient, uri: str) -> None:
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri=uri))
    )


def send_raw(client: LanguageClient, message: dict) -> None:
    """A JSON-RPC message as it is, past the client's checks of its params."""
    client.protocol._send_data({"jsonrpc": "2.0", **message})


@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command(LETTERS)))
async def client(lsp_client: LanguageClient):
    await initialized(lsp_client)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command(LETTERS)))
async def waiting_client(lsp_client: LanguageClient):
    """Every request waits half a second before computing: time to send more, to edit,
    to cancel. No document memory: edits that repeat letters cannot sway the
    suggestions."""
    await initialized(lsp_client, debounceMs=500, documentMemory=False)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command(SHIPPED_MODELS)))
async def engine_client(lsp_client: LanguageClient):
    await initialized(lsp_client, **ENGINE_OPTIONS)
    yield
    await lsp_client.shutdown_session()


# Settings other than the defaults, which idle work must follow as requests do.
TUNED_OPTIONS = {"multiline": True, "maxChars": 24, "minConfidence": 0.3}


@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command(SHIPPED_MODELS)))
async def tuned_client(lsp_client: LanguageClient):
    await initialized(lsp_client, **TUNED_OPTIONS)
    yield
    await lsp_client.shutdown_session()


# The short soak.


async def test_short_soak() -> None:
    # The reference reading once the allocator's pools have settled: before 2,000
    # completions they still grow with the sessions' comings and goings.
    figures = await soak(4000, seed=1, check_every=20, warmup=2000)
    assert figures.errors == []
    assert figures.wrong == []
    assert figures.checked >= 180
    assert (figures.sessions_open, figures.sessions_closed, figures.documents_closed) == (20, 0, 0)
    assert figures.requests_left == 0  # pygls 2.1 kept one per didChange for good
    # What no engine session holds or held (their idle work's caches come and go with
    # their documents; soak_server.Figures). Measured: about 1 MB over these 2,000
    # completions; a leak of 3 KB a completion (pygls's, above) shows.
    growth = figures.unaccounted_growth_mb
    assert growth < 3, f"server memory grew by {growth:.1f} MB that no session holds"


async def test_status_reports_sessions_and_their_release(client: LanguageClient) -> None:
    assert await status(client) == {
        "documents": 0,
        "sessions": 0,
        "sessionMemoryBytes": 0,
        "requestsInFlight": 0,
        "models": [],
        "preparing": 0,
        "preparedTokens": 0,
    }
    open_document(client, "file:///a.py", "A")
    open_document(client, "file:///b.rs", "B", language="rust")
    assert await suggestion(client, "file:///a.py", 0, 1) == "a!"
    assert await suggestion(client, "file:///b.rs", 0, 1) == "b;"
    held = await status(client)
    assert (held["documents"], held["sessions"], held["models"]) == (2, 2, ["python", "rust"])
    assert held["sessionMemoryBytes"] > 0
    close_document(client, "file:///a.py")
    after = await status(client)
    assert (after["documents"], after["sessions"]) == (1, 1)
    assert 0 < after["sessionMemoryBytes"] < held["sessionMemoryBytes"]


async def test_escaped_uris_name_their_documents(client: LanguageClient) -> None:
    """pygls files documents under their unescaped URI; a URI with "%20" (a space, as
    editors send it) once got no completions, and broke its language's others."""
    open_document(client, "file:///my%20notes.py", "A")
    open_document(client, "file:///plain.py", "B")
    assert await suggestion(client, "file:///my%20notes.py", 0, 1) == "a!"
    assert await suggestion(client, "file:///plain.py", 0, 1) == "b!"
    close_document(client, "file:///my%20notes.py")
    assert (await status(client))["sessions"] == 1
    assert await suggestion(client, "file:///plain.py", 0, 1) == "b!"


async def test_lines_end_where_lsp_ends_them(client: LanguageClient) -> None:
    """LSP ends lines at "\\n", "\\r\\n" and "\\r" only, not at the other breaks of
    str.splitlines (a form feed, as in Python files with page breaks, or U+2028 in a
    JavaScript string): positions after one mean what the client means, for the cursor
    and for edits."""
    for separator in "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029":
        uri = f"file:///separated-{ord(separator):x}.py"
        open_document(client, uri, f"A{separator}B\nC")
        assert await suggestion(client, uri, 0, 3) == "b!", repr(separator)
        assert await suggestion(client, uri, 1, 1) == "c!", repr(separator)
        insert(client, uri, 2, types.Position(1, 1), "D")
        insert(client, uri, 3, types.Position(0, 3), "E")
        assert await suggestion(client, uri, 1, 2) == "d!", repr(separator)
        assert await suggestion(client, uri, 0, 4) == "e!", repr(separator)
        close_document(client, uri)


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("", ()),
        ("a", ("a",)),
        ("a\n", ("a\n",)),
        ("a\r\nb\rc\nd", ("a\r\n", "b\r", "c\n", "d")),
        ("a\x0cb\n\u2028", ("a\x0cb\n", "\u2028")),
        ("a\n\x85", ("a\n", "\x85")),  # the fast path: no line split off
        ("\x0b\r\n\x1c\x1d\x1e\u2029", ("\x0b\r\n", "\x1c\x1d\x1e\u2029")),
    ],
)
def test_lsp_lines(text: str, lines: tuple[str, ...]) -> None:
    assert lsp_lines(text) == lines


# Concurrency.


def open_many(client: LanguageClient, count: int) -> dict[str, tuple[str, str]]:
    """count documents in three languages, each one capital letter long: uri -> (language,
    text)."""
    documents = {}
    for index in range(count):
        language = list(EXTENSIONS)[index % len(EXTENSIONS)]
        uri = f"file:///many/document{index}.{EXTENSIONS[language]}"
        documents[uri] = (language, CAPITALS[index])
        open_document(client, uri, CAPITALS[index], language=language)
    return documents


async def test_requests_for_many_documents_at_once(client: LanguageClient) -> None:
    documents = open_many(client, 20)
    for _ in range(5):
        answers = await asyncio.gather(*(suggestion(client, uri, 0, 1) for uri in documents))
        assert answers == [expected(*document) for document in documents.values()]


async def test_edits_while_requests_wait(waiting_client: LanguageClient) -> None:
    """20 requests wait at once; the documents edited meanwhile get no answer, the
    others theirs."""
    client = waiting_client
    documents = open_many(client, 20)
    requests = [asyncio.ensure_future(suggestion(client, uri, 0, 1)) for uri in documents]
    await until_in_flight(client, 20)
    edited = list(documents)[::2]
    for uri in edited:
        insert(client, uri, 2, types.Position(0, 1), "K")
    answers = dict(zip(documents, await asyncio.gather(*requests), strict=True))
    for uri, (language, text) in documents.items():
        assert answers[uri] == (None if uri in edited else expected(language, text)), uri
    answers = await asyncio.gather(*(suggestion(client, uri, 0, 2) for uri in edited))
    assert answers == [expected(documents[uri][0], "K") for uri in edited]


async def test_a_document_closed_and_reopened_while_a_request_waits(
    waiting_client: LanguageClient,
) -> None:
    """Reopened with other text and the same version number (editors count from 1
    again): the answer for the old text must not come back."""
    client = waiting_client
    open_document(client, "file:///reopened.py", "A")
    request = asyncio.ensure_future(suggestion(client, "file:///reopened.py", 0, 1))
    await until_in_flight(client, 1)
    close_document(client, "file:///reopened.py")
    open_document(client, "file:///reopened.py", "B")
    assert await request in (None, "b!")
    assert await suggestion(client, "file:///reopened.py", 0, 1) == "b!"


async def test_edits_while_the_engine_runs(engine_client: LanguageClient) -> None:
    """Requests at every line end of a document keep the engine busy (one at a time, on
    the document's session) while an edit above them arrives. The server reports each
    answer it lets through (ttcc/suggestion) as it checks the document, and a warning
    sent after the edit tells the client which checks came after it: answers checked
    before the edit must be the old text's, answers checked after it the new text's."""
    client = engine_client
    after_edit: list[bool] = []  # for each ttcc/suggestion: was it checked after the edit?

    @client.feature("ttcc/suggestion")
    def reported(_: LanguageClient, params: object) -> None:
        after_edit.append(len(client.messages) > 0)

    old_text = (SHIPPED_MODELS / "samples" / "python.py").read_text()
    new_text = "import os\n" + old_text
    lines = old_text.split("\n")
    open_document(client, "file:///busy.py", old_text)
    arrived: list[tuple[int, str | None]] = []  # (line, answer), in the order they came
    requests = []
    for line, content in enumerate(lines):
        request = asyncio.ensure_future(suggestion(client, "file:///busy.py", line, len(content)))
        request.add_done_callback(lambda done, line=line: arrived.append((line, done.result())))
        requests.append(request)
    await asyncio.sleep(0.02)
    insert(client, "file:///busy.py", 2, types.Position(0, 0), "import os\n")
    configure(client, maxChars="a warning, sent once the edit is applied")
    await asyncio.gather(*requests)

    model = Model.load(SHIPPED_MODELS / "python.ttc")
    answered = [(line, answer) for line, answer in arrived if answer is not None]
    assert len(answered) == len(after_edit)
    for (line, answer), checked_after_edit in zip(answered, after_edit, strict=True):
        text = new_text if checked_after_edit else old_text
        assert answer == complete_fresh(model, text, line, len(lines[line])), (line, answer)
    dropped = [
        line
        for line, answer in arrived
        if answer is None
        and complete_fresh(model, old_text, line, len(lines[line]))
        and complete_fresh(model, new_text, line, len(lines[line]))
    ]
    assert dropped, "no answer was dropped: the engine was never busy when the edit came"


async def until_idle(client: LanguageClient) -> dict:
    """The server's status once its idle work is done."""
    for _ in range(500):
        held = await status(client)
        if held["preparing"] == 0:
            return held
        await asyncio.sleep(0.01)
    raise AssertionError("the server never finished its idle work")


async def test_idle_work_is_the_engines_after_each_answer(tuned_client: LanguageClient) -> None:
    """Typing a shipped model's sample character by character under settings other than
    the defaults, each answer awaited and the server then left idle: the answers are a
    plain engine session's, and the server's idle work is, token for token, what an
    engine session does after each of the same requests with the same options (running
    ahead of each move of the window's start, the suggestions after the likeliest next
    characters; tests/engine/test_reuse.py checks what that saves the next keystroke)."""
    client = tuned_client
    options = {"multiline": True, "max_chars": 24, "min_confidence": 0.3}
    text = (SHIPPED_MODELS / "samples" / "python.py").read_text()[:420]
    model = Model.load(SHIPPED_MODELS / "python.ttc")
    plain, idle = model.session(), model.session()
    uri = "file:///typed.py"
    open_document(client, uri, text[:150])
    expected_prepared = 0
    for version, end in enumerate(range(151, len(text) + 1), start=2):
        typed = text[: end - 1]
        at = types.Position(typed.count("\n"), len(typed) - typed.rfind("\n") - 1)
        insert(client, uri, version, at, text[end - 1])
        line, character = text[:end].count("\n"), end - text[:end].rfind("\n") - 1
        expected = plain.complete(text[:end], **options) or None
        assert await suggestion(client, uri, line, character) == expected
        assert (idle.complete(text[:end], **options) or None) == expected
        while ran := idle.prepare(text[:end], **options):
            expected_prepared += ran
        assert (await until_idle(client))["preparedTokens"] == expected_prepared, end
    # The window (256 tokens) moves every 64 characters once the text outgrows it,
    # about 160 tokens each time, run ahead; the guesses' suggestions come on top.
    assert expected_prepared >= 3 * 150 + len(text) - 150


def complete_fresh(model: Model, text: str, line: int, character: int) -> str:
    """A fresh session's suggestion at (line, character) of an ASCII text."""
    lines = text.split("\n")
    offset = sum(len(earlier) + 1 for earlier in lines[:line]) + min(character, len(lines[line]))
    return model.session().complete(
        text[:offset],
        text[offset:],
        multiline=ENGINE_OPTIONS["multiline"],
        max_chars=ENGINE_OPTIONS["maxChars"],
        min_confidence=ENGINE_OPTIONS["minConfidence"],
    )


async def test_cancel_storm_while_requests_wait(waiting_client: LanguageClient) -> None:
    """600 requests over 6 documents, 9 in 10 cancelled at once, with edits and
    cancellations of unknown requests in between: each answer that comes is none or the
    one for its document's text then or later; afterwards nothing is left in flight and
    every document gets its answer."""
    client = waiting_client
    documents = {}  # uri -> [language, text, version]
    for index in range(6):
        language = list(EXTENSIONS)[index % len(EXTENSIONS)]
        uri = f"file:///storm/document{index}.{EXTENSIONS[language]}"
        documents[uri] = [language, "A", 1]
        open_document(client, uri, "A", language=language)
    sent = []  # (request, uri, the document's length when asked)
    for number in range(600):
        uri = list(documents)[number % len(documents)]
        language, text, version = documents[uri]
        if number % 7 == 0:  # type the next letter at the end
            letter = CAPITALS[len(text) % len(CAPITALS)]
            insert(client, uri, version + 1, types.Position(0, len(text)), letter)
            text, version = text + letter, version + 1
            documents[uri] = [language, text, version]
        request = send_inline(client, uri, 0, len(text), msg_id=f"storm-{number}")
        sent.append((request, uri, len(text)))
        if number % 10:
            client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=f"storm-{number}"))
        if number % 50 == 0:
            client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=f"none-{number}"))
    answers = await asyncio.gather(*(request for request, _, _ in sent), return_exceptions=True)
    cancelled = 0
    for answer, (_, uri, length) in zip(answers, sent, strict=True):
        if isinstance(answer, JsonRpcRequestCancelled):
            cancelled += 1
            continue
        assert not isinstance(answer, BaseException), answer
        language, final_text, _ = documents[uri]
        possible = {
            expected(language, final_text[:end]) for end in range(length, len(final_text) + 1)
        }
        got = None if answer is None else answer.items[0].insert_text
        assert got is None or got in possible, (uri, length, got)
    assert cancelled >= 500
    held = await status(client)
    assert (held["requestsInFlight"], held["documents"]) == (0, 6)
    answers = await asyncio.gather(
        *(suggestion(client, uri, 0, len(text)) for uri, (_, text, _) in documents.items())
    )
    assert answers == [expected(language, text) for language, text, _ in documents.values()]


async def test_cancel_storm_while_the_engine_runs(engine_client: LanguageClient) -> None:
    """Requests at every line end of two documents, two in three cancelled a few
    milliseconds later: some before the engine starts, some while it runs (it runs on,
    in its thread, holding the document's session), some after the answer. The answers
    that come are right, and so is every answer afterwards."""
    client = engine_client
    rng = random.Random(0)
    texts, models = {}, {}  # by URI
    for language, extension in (("python", "py"), ("rust", "rs")):
        uri = f"file:///cancelled.{extension}"
        texts[uri] = (SHIPPED_MODELS / "samples" / f"{language}.{extension}").read_text()
        models[uri] = Model.load(SHIPPED_MODELS / f"{language}.ttc")
        open_document(client, uri, texts[uri], language=language)

    async def cancelled_soon(uri: str, line: int, character: int, number: int):
        request = send_inline(client, uri, line, character, msg_id=f"engine-{number}")
        if number % 3:
            await asyncio.sleep(rng.uniform(0, 0.01))
            client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=f"engine-{number}"))
        try:
            return await request
        except JsonRpcRequestCancelled:
            return "cancelled"

    asked = [
        (uri, line, len(content))
        for uri, text in texts.items()
        for line, content in enumerate(text.split("\n"))
    ]
    answers = await asyncio.gather(
        *(cancelled_soon(*where, number) for number, where in enumerate(asked))
    )
    assert answers.count("cancelled") > 0
    for number, ((uri, line, character), answer) in enumerate(zip(asked, answers, strict=True)):
        if answer == "cancelled":
            assert number % 3, f"request {number} was not cancelled"
            continue
        fresh = complete_fresh(models[uri], texts[uri], line, character)
        assert (answer.items[0].insert_text if answer else "") == fresh, (uri, line)
    assert (await status(client))["requestsInFlight"] == 0
    for uri, line, character in asked[::5]:
        fresh = complete_fresh(models[uri], texts[uri], line, character)
        assert (await suggestion(client, uri, line, character) or "") == fresh, (uri, line)


def send_inline(
    client: LanguageClient, uri: str, line: int, character: int, msg_id: str
) -> asyncio.Future:
    """An inlineCompletion request, sent now: pytest-lsp's send_request_async sends it
    only when its task runs, after a cancellation sent meanwhile."""
    request = client.protocol.send_request(
        types.TEXT_DOCUMENT_INLINE_COMPLETION,
        inline_params(uri, character, line),
        msg_id=msg_id,
    )
    return asyncio.wrap_future(request)


def inline_params(uri: str, character: int, line: int = 0) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line, character),
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Automatic
        ),
    )


# Security.

# `python -c AUDITED_SERVER DIRECTORY ARGS...` is `python -m server ARGS` with an audit
# hook that writes each watched event as a JSON line [event, [arguments]] to
# DIRECTORY/PID.jsonl (a file opened before the hook, so that writing raises no event).
AUDITED_SERVER = """
import json, os, runpy, sys

log = open(os.path.join(sys.argv[1], f"{os.getpid()}.jsonl"), "w", buffering=1)
WATCHED = ("open", "import", "compile", "exec", "subprocess.", "os.system", "os.exec",
           "os.posix_spawn", "os.spawn", "os.fork", "pty.", "socket.", "webbrowser.")

def plain(value):
    if isinstance(value, bytes):
        value = os.fsdecode(value)
    return value if isinstance(value, (str, int, float, type(None))) else type(value).__name__

def hook(event, args):
    if event.startswith(WATCHED):
        if event == "open" and isinstance(args[0], (str, bytes)):
            args = (os.path.abspath(os.fsdecode(args[0])), *args[1:])
        log.write(json.dumps([event, [plain(value) for value in args[:4]]]) + "\\n")

sys.addaudithook(hook)
sys.argv = ["server", *sys.argv[2:]]
runpy.run_module("server", run_name="__main__", alter_sys=True)
"""
AUDIT_LOGS = Path(tempfile.mkdtemp(prefix="ttcc-audit-"))
PROCESS_EVENTS = ("subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork")
PROCESS_EVENTS += ("pty.", "webbrowser.")
# Python that creates MARKER when run: the client puts it wherever it can.
MARKER = AUDIT_LOGS / "the-client-s-code-ran"
CODE = f"__import__('pathlib').Path({str(MARKER)!r}).touch()"
# Settings that would move the models directory, if any could.
HOSTILE_SETTINGS = {
    **{name: str(DECOY) for name in ("modelsDir", "models_dir", "modelsDirectory", "models")},
    "modelDir": "../../",
    "modelPath": str(DECOY / "python.ttc"),
    "enabledLanguages": ["../../../etc/passwd", "python"],
    "unknownLanguages": CODE,
}


def audited_command(log_directory: Path, models: Path) -> list[str]:
    return [sys.executable, "-c", AUDITED_SERVER, str(log_directory), "--models-dir", str(models)]


def audit_events(log: Path) -> list[tuple[str, list]]:
    return [tuple(json.loads(line)) for line in log.read_text().splitlines()]


def assert_confined(events: list[tuple[str, list]], models: Path) -> None:
    """The server opened files only in the models directory, the Python installation,
    its own code (ttcc/ but for the shipped models, server.py) and the checkout's package
    metadata (importlib.metadata reads it for ttcc.__version__); started no program; made
    no network socket (asyncio wakes its event loop through an unnamed AF_UNIX socket
    pair); ran none of CODE."""
    allowed = [models, Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix)]
    allowed = [path.resolve() for path in allowed]
    allowed += [ROOT / "ttcc", ROOT / "server.py", ROOT / "__pycache__", ROOT / "ttcc.egg-info"]
    shipped_models = ROOT / "ttcc" / "models"
    opened = {args[0] for event, args in events if event == "open" and isinstance(args[0], str)}
    outside = [
        path
        for path in (Path(name).resolve() for name in opened)
        if not any(path.is_relative_to(a) for a in allowed)
        or (path.is_relative_to(shipped_models) and models.resolve() != shipped_models)
    ]
    assert sorted(outside) == []
    assert [event for event, _ in events if event.startswith(PROCESS_EVENTS)] == []
    network = [
        (event, args)
        for event, args in events
        if event.startswith("socket.")
        and not (event == "socket.__new__" and args[1] == socket.AF_UNIX)
    ]
    assert network == []
    assert not [args for event, args in events if event == "compile" and CODE in str(args)]
    imported = {args[0] for event, args in events if event == "import"}
    assert "antigravity" not in imported  # a languageId below; importing it opens a browser
    assert not MARKER.exists()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=audited_command(AUDIT_LOGS, LETTERS)))
async def audited_client(lsp_client: LanguageClient):
    """A server under audit, initialized by a client that asks it to look at /etc and at
    the decoy models, in every way it has."""
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            root_uri="file:///etc",
            workspace_folders=[types.WorkspaceFolder(uri=DECOY.as_uri(), name="decoy")],
            initialization_options={"ttcc": HOSTILE_SETTINGS, **HOSTILE_SETTINGS},
        )
    )
    yield
    await lsp_client.shutdown_session()


def audit_log(client: LanguageClient) -> Path:
    return AUDIT_LOGS / f"{client._server.pid}.jsonl"


async def test_the_models_directory_is_the_command_line_s(audited_client: LanguageClient) -> None:
    client = audited_client
    open_document(client, "file:///a.py", "A")
    assert await suggestion(client, "file:///a.py", 0, 1) == "a!"  # the decoy would say "9"
    for settings in ({"ttcc": {**HOSTILE_SETTINGS, "maxChars": 1}}, HOSTILE_SETTINGS):
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings=settings)
        )
    assert await suggestion(client, "file:///a.py", 0, 1) == "a"  # maxChars 1 was taken
    assert (await status(client))["models"] == ["python"]
    warnings = [m.message for m in client.messages if m.type == types.MessageType.Warning]
    assert any("enabledLanguages" in m for m in warnings)
    assert any("unknownLanguages" in m for m in warnings)
    events = audit_events(audit_log(client))
    assert_confined(events, LETTERS)
    assert f"{LETTERS.resolve()}/python.ttc" in {
        args[0] for event, args in events if event == "open"
    }


async def test_the_server_reads_only_the_text_it_is_sent(audited_client: LanguageClient) -> None:
    """Documents named after files, directories, modules and code get suggestions from
    the text sent with them, by their languageId (one of the known names, else the base
    model) or their URI's extension, and nothing else."""
    client = audited_client
    documents = [  # uri, languageId, text, the suggestion at its end
        ("file:///etc/passwd", "python", "C", "c!"),
        ("file:///../../../etc/group", "../../../etc/passwd", "D", "d#"),
        ("../../../etc/passwd", "rust", "E", "e;"),
        (f"{DECOY.as_uri()}/python.ttc", "python", "F", "f!"),
        ("file:///etc/shadow%00.py", "", "G", "g!"),
        ("file:///x.txt", "../python", "H", "h#"),
        ("file:///y.txt", f"{DECOY}/python", "I", "i#"),
        ("file:///z.txt", "antigravity", "J", "j#"),
        (f"file:///{CODE}.js", CODE, CODE + "K", "k?"),
    ]
    for uri, language, text, _ in documents:
        open_document(client, uri, text, language=language)
    for uri, _, text, answer in documents:
        assert await suggestion(client, uri, 0, len(text)) == answer, uri
    # A notebook cell is a document too.
    send_raw(
        client,
        {
            "method": "notebookDocument/didOpen",
            "params": {
                "notebookDocument": {
                    "uri": "file:///etc/fstab.ipynb",
                    "notebookType": "jupyter-notebook",
                    "version": 1,
                    "cells": [{"kind": 2, "document": "file:///etc/fstab"}],
                },
                "cellTextDocuments": [
                    {"uri": "file:///etc/fstab", "languageId": "python", "version": 1, "text": "L"}
                ],
            },
        },
    )
    assert await suggestion(client, "file:///etc/fstab", 0, 1) == "l!"
    # Documents never opened, or opened without text (pygls makes it "None"): nothing to
    # suggest from, and no file read instead.
    assert await suggestion(client, "file:///etc/hosts", 0, 0) is None
    insert(client, "file:///etc/hostname", 2, types.Position(0, 0), "M")
    assert await suggestion(client, "file:///etc/hostname", 0, 1) is None
    send_raw(
        client,
        {
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {
                    "uri": "file:///etc/os-release",
                    "languageId": "python",
                    "version": 1,
                    "text": None,
                }
            },
        },
    )
    assert await suggestion(client, "file:///etc/os-release", 0, 0) is None
    # Commands and methods the server does not have.
    for method, params in (
        ("workspace/executeCommand", types.ExecuteCommandParams(CODE, arguments=[CODE])),
        (f"ttcc/{CODE}", {CODE: CODE}),
    ):
        with pytest.raises(JsonRpcException):
            await asyncio.wrap_future(client.protocol.send_request(method, params))
    assert (await status(client))["documents"] == len(documents) + 2  # the cell, the textless
    assert_confined(audit_events(audit_log(client)), LETTERS)


# No network.


@pytest.mark.skipif(
    NO_NETWORK is None,
    reason="`unshare --net` is not permitted here (it needs root or user namespaces)",
)
async def test_completions_without_network(tmp_path: Path) -> None:
    probe = [sys.executable, "-c", "import socket; socket.create_connection(('192.0.2.1', 9))"]
    unreachable = subprocess.run([*NO_NETWORK, *probe], capture_output=True, text=True)
    assert "Network is unreachable" in unreachable.stderr  # the namespace has no network

    command = [*NO_NETWORK, *audited_command(tmp_path, SHIPPED_MODELS)]
    figures = await soak(300, seed=2, check_every=5, warmup=100, command=command)
    assert (figures.errors, figures.wrong) == ([], [])
    assert figures.checked >= 55
    (log,) = tmp_path.glob("*.jsonl")
    assert_confined(audit_events(log), SHIPPED_MODELS)
