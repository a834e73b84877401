"""The language server end to end: pytest-lsp starts `python -m server` as a
subprocess and talks LSP to it over stdio, as an editor would."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

import pytest
import pytest_lsp
import torch
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.scripted_model import export_scripted
from training.export import export_ttc
from training.model import PRESETS, Transformer
from ttcc.adapted import project_dir, record_project
from ttcc.engine import Model

# Models the server under test loads, made once when this module is imported:
#   python: scripted, "=" -> " 42", "(" -> "a)"      base: scripted, "=" -> " 0"
#   javascript: random weights (varied suggestions)  rust: a damaged file      go: absent
MODELS = Path(tempfile.mkdtemp(prefix="ttcc-server-models-"))
export_scripted(
    MODELS / "python.ttc",
    {"=": " ", " ": "4", "4": "2", "2": "<EOS>", "(": "a", "a": ")", ")": "<END>"},
)
export_scripted(MODELS / "base.ttc", {"=": " ", " ": "0", "0": "<EOS>"})
torch.manual_seed(0)
export_ttc(Transformer(PRESETS["tiny"]), MODELS / "javascript.ttc", {"language": "javascript"})
(MODELS / "rust.ttc").write_bytes((MODELS / "base.ttc").read_bytes()[:-10])

# A python model adapted to the project folder "/work/adapted project": "=" -> " 7".
ADAPTED = Path(tempfile.mkdtemp(prefix="ttcc-server-adapted-"))
ADAPTED_PROJECT = Path("/work/adapted project")
export_scripted(record_project(ADAPTED, ADAPTED_PROJECT) / "python.ttc",
                {"=": " ", " ": "7", "7": "<EOS>"})

SERVER = [sys.executable, "-m", "server", "--models-dir", str(MODELS),
          "--adapted-dir", str(ADAPTED)]


async def initialized(client: LanguageClient, **options) -> types.InitializeResult:
    return await client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(
                text_document=types.TextDocumentClientCapabilities(
                    inline_completion=types.InlineCompletionClientCapabilities(),
                    completion=types.CompletionClientCapabilities(),
                )
            ),
            initialization_options={"ttcc": options},
        )
    )


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient):
    lsp_client.initialize_result = await initialized(lsp_client)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def eager_client(lsp_client: LanguageClient):
    """Suggestions regardless of confidence, so the random model always says something."""
    await initialized(lsp_client, minConfidence=0.0, maxChars=12)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def slow_client(lsp_client: LanguageClient):
    """Waits 300 ms before computing: time to change the document or cancel."""
    await initialized(lsp_client, debounceMs=300)
    yield
    await lsp_client.shutdown_session()


def open_document(client: LanguageClient, uri: str, text: str, language: str = "python") -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id=language, version=1, text=text
            )
        )
    )


def insert(client: LanguageClient, uri: str, version: int, at: types.Position, text: str) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(range=types.Range(at, at), text=text)
            ],
        )
    )


async def inline(client: LanguageClient, uri: str, line: int, character: int):
    return await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line, character),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
        )
    )


async def suggestion(client: LanguageClient, uri: str, line: int, character: int) -> str | None:
    result = await inline(client, uri, line, character)
    return None if result is None else result.items[0].insert_text


async def test_capabilities(client: LanguageClient) -> None:
    capabilities = client.initialize_result.capabilities
    assert capabilities.inline_completion_provider is not None
    assert capabilities.completion_provider is not None
    sync = capabilities.text_document_sync
    assert sync.change == types.TextDocumentSyncKind.Incremental


async def test_inline_completion(client: LanguageClient) -> None:
    open_document(client, "file:///a.py", "x =")
    result = await inline(client, "file:///a.py", 0, 3)
    (item,) = result.items
    assert item.insert_text == " 42"
    assert item.range == types.Range(types.Position(0, 3), types.Position(0, 3))


async def test_each_suggestion_is_reported_with_its_model_and_time(
    client: LanguageClient,
) -> None:
    open_document(client, "file:///reported.py", "x =")
    report = asyncio.ensure_future(client.wait_for_notification("ttcc/suggestion"))
    assert await suggestion(client, "file:///reported.py", 0, 3) == " 42"
    params = await asyncio.wait_for(report, timeout=10)
    assert params.uri == "file:///reported.py" and params.model == "python.ttc"
    assert 0 < params.milliseconds < 10_000


async def test_documents_inside_an_adapted_project_use_its_model(
    client: LanguageClient,
) -> None:
    inside = "file:///work/adapted%20project/src/inside.py"
    outside = "file:///work/other/outside.py"
    open_document(client, inside, "x =")
    open_document(client, outside, "x =")
    report = asyncio.ensure_future(client.wait_for_notification("ttcc/suggestion"))
    assert await suggestion(client, inside, 0, 3) == " 7"
    params = await asyncio.wait_for(report, timeout=10)
    assert (params.model, params.adaptedTo) == ("python.ttc", str(ADAPTED_PROJECT))
    report = asyncio.ensure_future(client.wait_for_notification("ttcc/suggestion"))
    assert await suggestion(client, outside, 0, 3) == " 42"
    assert (await asyncio.wait_for(report, timeout=10)).adaptedTo is None


async def test_an_adapted_model_written_anew_is_used_without_a_restart(
    client: LanguageClient,
) -> None:
    project = Path("/work/later project")
    uri = "file:///work/later%20project/a.py"
    open_document(client, uri, "x =")
    assert await suggestion(client, uri, 0, 3) == " 42"  # not adapted yet
    model = record_project(ADAPTED, project) / "python.ttc"
    export_scripted(model, {"=": " ", " ": "8", "8": "<EOS>"})
    assert await suggestion(client, uri, 0, 3) == " 8"
    model.write_bytes(model.read_bytes()[:-10])  # damaged: the shipped model again
    os.utime(model, (1, 1))
    shown = asyncio.ensure_future(client.wait_for_notification(types.WINDOW_SHOW_MESSAGE))
    assert await suggestion(client, uri, 0, 3) == " 42"
    message = await asyncio.wait_for(shown, timeout=10)
    assert "cannot be used" in message.message and "using the shipped model" in message.message
    assert project_dir(ADAPTED, project) == model.parent


async def test_mid_line_item_replaces_what_it_types_again(client: LanguageClient) -> None:
    open_document(client, "file:///b.py", "value = f()\n")
    result = await inline(client, "file:///b.py", 0, 10)  # between "(" and ")"
    (item,) = result.items
    assert item.insert_text == "a)"
    assert item.range == types.Range(types.Position(0, 10), types.Position(0, 11))


async def test_completion_fallback(client: LanguageClient) -> None:
    open_document(client, "file:///c.py", "total = f(\n")
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri="file:///c.py"),
            position=types.Position(0, 10),
        )
    )
    (item,) = result.items
    assert item.text_edit.new_text == "a)"
    assert item.text_edit.range == types.Range(types.Position(0, 10), types.Position(0, 10))


async def test_routing_by_language_extension_and_base(client: LanguageClient) -> None:
    open_document(client, "file:///d.py", "y =", language="")  # by extension
    open_document(client, "file:///notes.txt", "y =", language="plaintext")  # base model
    open_document(client, "file:///main.go", "y =", language="go")  # no go.ttc: base
    assert await suggestion(client, "file:///d.py", 0, 3) == " 42"
    assert await suggestion(client, "file:///notes.txt", 0, 3) == " 0"
    assert await suggestion(client, "file:///main.go", 0, 3) == " 0"


async def test_damaged_model_is_reported_and_others_keep_working(client: LanguageClient) -> None:
    open_document(client, "file:///lib.rs", "let y =", language="rust")
    assert await suggestion(client, "file:///lib.rs", 0, 7) == " 0"  # the base stands in
    errors = [m for m in client.messages if m.type == types.MessageType.Error]
    assert any("rust.ttc" in m.message for m in errors)
    open_document(client, "file:///e.py", "z =")
    assert await suggestion(client, "file:///e.py", 0, 3) == " 42"


async def test_settings_change(client: LanguageClient) -> None:
    open_document(client, "file:///f.py", "x =")
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"ttcc": {"maxChars": 2, "unknownLanguages": "off", "maxCharz": 1}}
        )
    )
    assert await suggestion(client, "file:///f.py", 0, 3) == " 4"
    open_document(client, "file:///notes.txt", "y =", language="plaintext")
    assert await suggestion(client, "file:///notes.txt", 0, 3) is None
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"ttcc": {"maxChars": "many"}})
    )
    assert await suggestion(client, "file:///f.py", 0, 3) == " 4"
    warnings = [m for m in client.messages if m.type == types.MessageType.Warning]
    assert any("maxChars" in m.message for m in warnings)


async def test_disabled_language(client: LanguageClient) -> None:
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"enabledLanguages": ["rust"]})
    )
    open_document(client, "file:///g.py", "x =")
    assert await suggestion(client, "file:///g.py", 0, 3) is None


async def test_bad_input(client: LanguageClient) -> None:
    # Unknown document, and a request before its didOpen.
    assert await suggestion(client, "file:///never-opened.py", 0, 0) is None
    open_document(client, "file:///h.py", "x =\n")
    # Positions outside the document.
    assert await suggestion(client, "file:///h.py", 7, 0) is None
    assert await suggestion(client, "file:///h.py", 0, 99) == " 42"  # end of the line
    # Non-ASCII, CRLF, a surrogate pair (2 UTF-16 units) before the cursor.
    open_document(client, "file:///i.py", "naïve = 1\r\n😀 x =\r\nz")
    assert await suggestion(client, "file:///i.py", 1, 6) == " 42"
    # A 5 MB document (neither its lines nor the other open documents give the document
    # memory anything to say after "y =").
    line = "total += values[index]  # ok\n"
    big = line * (5_000_000 // len(line)) + "y ="
    open_document(client, "file:///big.py", big)
    assert await suggestion(client, "file:///big.py", big.count("\n"), 3) == " 42"
    # Still serving.
    assert await suggestion(client, "file:///h.py", 0, 3) == " 42"


async def test_stale_answers_are_dropped(slow_client: LanguageClient) -> None:
    client = slow_client
    open_document(client, "file:///j.py", "x =")
    request = asyncio.ensure_future(inline(client, "file:///j.py", 0, 3))
    await asyncio.sleep(0.05)
    insert(client, "file:///j.py", 2, types.Position(0, 3), " ")
    assert await request is None
    assert await suggestion(client, "file:///j.py", 0, 3) == " 42"  # the server is fine


async def test_cancelled_request(slow_client: LanguageClient) -> None:
    client = slow_client
    open_document(client, "file:///k.py", "x =")
    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri="file:///k.py"),
        position=types.Position(0, 3),
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Automatic
        ),
    )
    request = asyncio.ensure_future(
        client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id="cancel-me"
        )
    )
    await asyncio.sleep(0.05)
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="cancel-me"))
    with pytest.raises(JsonRpcRequestCancelled):
        await request
    assert await suggestion(client, "file:///k.py", 0, 3) == " 42"


async def test_incremental_edits_equal_a_fresh_computation(eager_client: LanguageClient) -> None:
    client = eager_client
    model = Model.load(MODELS / "javascript.ttc")
    uri = "file:///app.js"
    text = "function add(a, b) {\n  return \n}\n"
    open_document(client, uri, text, language="javascript")
    line, column, version = 1, 9, 1
    for typed in "a + b; // sum":
        version += 1
        insert(client, uri, version, types.Position(line, column), typed)
        offset = text.index("\n", 0) + 1 + column
        text = text[:offset] + typed + text[offset:]
        column += 1
        got = await suggestion(client, uri, line, column)
        offset += 1
        expected = model.session().complete(
            text[:offset], text[offset:], min_confidence=0.0, max_chars=12
        )
        assert (got or "") == expected


def resident_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_burst_of_edits_keeps_memory_stable(eager_client: LanguageClient) -> None:
    client = eager_client
    uri = "file:///burst.js"
    open_document(client, uri, "", language="javascript")
    pid = client._server.pid
    warm = 0
    for i in range(500):
        if i == 100:
            warm = resident_kb(pid)
        insert(client, uri, i + 2, types.Position(0, i), "xy(;, "[i % 6])
        await inline(client, uri, 0, i + 1)
    growth_mb = (resident_kb(pid) - warm) / 1024
    assert growth_mb < 5, f"server memory grew by {growth_mb:.1f} MB over 400 keystrokes"


def configure(client: LanguageClient, **settings) -> None:
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"ttcc": settings})
    )


async def test_memory_reads_the_other_open_documents_of_the_language(
    client: LanguageClient,
) -> None:
    """javascript.ttc has random weights: it can only know the identifier from memory."""
    configure(client, minConfidence=0.6)  # what the memory reads is tested, not the floor
    open_document(client, "file:///names.py", "other_identifier_name = 3\n")
    open_document(client, "file:///use.js", "let y = other_i", language="javascript")
    assert await suggestion(client, "file:///use.js", 0, 15) is None  # python is not read

    open_document(client, "file:///names.js", "const other_identifier_name = 3;\n", "javascript")
    assert (await suggestion(client, "file:///use.js", 0, 15)).startswith("dent")

    configure(client, memoryFromOpenDocuments=False)
    assert await suggestion(client, "file:///use.js", 0, 15) is None
    configure(client, memoryFromOpenDocuments=True)
    assert (await suggestion(client, "file:///use.js", 0, 15)).startswith("dent")
    configure(client, documentMemory=False)
    assert await suggestion(client, "file:///use.js", 0, 15) is None
    configure(client, documentMemory=True)

    # An edit in the other document is seen; closing it takes it out of the memory.
    insert(client, "file:///names.js", 2, types.Position(0, 0), "let y = other_inner;\n")
    assert (await suggestion(client, "file:///use.js", 0, 15)).startswith("nner")
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri="file:///names.js"))
    )
    assert await suggestion(client, "file:///use.js", 0, 15) is None


async def test_document_memory_setting(client: LanguageClient) -> None:
    uri = "file:///repeat.js"
    open_document(client, uri, "alpha_beta_gamma = 1\nx = 2\nalpha_b", language="javascript")
    assert (await suggestion(client, uri, 2, 7)).startswith("eta")
    configure(client, documentMemory=False)
    assert await suggestion(client, uri, 2, 7) is None
    configure(client, documentMemory="no", memoryFromOpenDocuments=0)
    assert await suggestion(client, uri, 2, 7) is None  # still off
    warnings = [m.message for m in client.messages if m.type == types.MessageType.Warning]
    assert any("documentMemory" in m and "expected true or false" in m for m in warnings)
    assert any("memoryFromOpenDocuments" in m for m in warnings)
