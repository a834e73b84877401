"""The language server's parts on their own: settings, routing, sessions, ranges."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.workspace import TextDocument

from ttcc import shipped_models_dir
from ttcc.engine import DEFAULT_OPTIONS, MEMORY_TEXT_BYTES, Model
from ttcc.languages import LANGUAGES, language_of
from ttcc.server.completion import completion_item, cursor_at, inline_item
from ttcc.server.memory_text import MemoryTexts, memory_group
from ttcc.server.models import ModelStore
from ttcc.server.sessions import SessionPool
from ttcc.server.settings import Settings, update


def test_vscode_setting_defaults_are_the_engines() -> None:
    # VS Code sends its defaults as settings: they must be what the engine would use.
    manifest = Path(__file__).resolve().parents[2] / "vscode_client" / "package.json"
    settings = json.loads(manifest.read_text())["contributes"]["configuration"]["properties"]
    names = {"multiline": "multiline", "maxChars": "max_chars",
             "minConfidence": "min_confidence", "documentMemory": "document_memory"}
    for setting, option in names.items():
        assert settings[f"ttcc.{setting}"]["default"] == DEFAULT_OPTIONS[option], setting
    assert DEFAULT_OPTIONS["multiline"] in settings["ttcc.multiline"]["enum"]


def test_settings_defaults_and_updates() -> None:
    settings = Settings()
    assert settings.enabled_languages == LANGUAGES and settings.max_chars == 64
    updated, problems = update(settings, {"ttcc": {"maxChars": 10, "multiline": True}})
    assert (updated.max_chars, updated.multiline, problems) == (10, True, [])
    updated, problems = update(updated, {"multiline": "auto"})
    assert (updated.multiline, problems) == ("auto", [])
    updated, problems = update(updated, {"multiline": "always"})
    assert updated.multiline == "auto"
    assert problems == ['ttcc.multiline: expected true, false or "auto"; keeping \'auto\'']
    updated, problems = update(settings, {"maxChars": 0, "minConfidence": 2, "debounceMs": "x"})
    assert updated == settings and len(problems) == 3
    updated, problems = update(settings, {"enabledLanguages": ["python", "cobol"]})
    assert updated == settings and "cobol" in problems[0]
    assert update(settings, None) == (settings, [])
    assert update(settings, {"modelsDir": "/etc"})[0].models_dir == settings.models_dir
    assert settings.document_memory and settings.memory_from_open_documents
    off = {"documentMemory": False, "memoryFromOpenDocuments": False}
    updated, problems = update(settings, off)
    assert not updated.document_memory and not updated.memory_from_open_documents and not problems
    updated, problems = update(settings, {"documentMemory": 0, "memoryFromOpenDocuments": "off"})
    assert updated == settings and len(problems) == 2


class Documents(dict):
    """Document texts by URI, counting how often MemoryTexts reads one."""

    reads = 0

    def text_of(self, uri: str) -> str:
        self.reads += 1
        return self[uri]


def test_memory_text_is_the_other_documents_of_the_language_most_recent_first() -> None:
    documents = Documents({"file:///a.py": "A", "file:///b.py": "B", "file:///c.py": "C"})
    documents |= {"file:///d.js": "D", "file:///notes": "N"}
    texts = MemoryTexts()
    texts.opened("file:///a.py", memory_group("python", "file:///a.py"))
    texts.opened("file:///b.py", memory_group("", "file:///b.py"))  # python by extension
    texts.opened("file:///d.js", memory_group("javascript", "file:///d.js"))
    texts.opened("file:///notes", memory_group("plaintext", "file:///notes"))
    texts.opened("file:///c.py", memory_group("python", "file:///c.py"))
    assert texts.text_for("file:///a.py", documents.text_of) == "C\nB"
    assert texts.text_for("file:///c.py", documents.text_of) == "B\nA"
    assert texts.text_for("file:///d.js", documents.text_of) == ""
    assert texts.text_for("file:///notes", documents.text_of) == ""
    assert texts.text_for("file:///unknown.py", documents.text_of) == ""

    texts.changed("file:///b.py")
    assert texts.text_for("file:///a.py", documents.text_of) == "B\nC"
    texts.closed("file:///b.py")
    assert texts.text_for("file:///a.py", documents.text_of) == "C"
    assert texts.text_for("file:///b.py", documents.text_of) == ""


def test_memory_text_is_built_again_only_when_another_document_changes() -> None:
    documents = Documents({"file:///a.py": "A", "file:///b.py": "B"})
    texts = MemoryTexts()
    for uri in documents:
        texts.opened(uri, "python")
    assert texts.text_for("file:///a.py", documents.text_of) == "B"
    reads = documents.reads
    for _ in range(100):  # typing in a.py
        texts.changed("file:///a.py")
        assert texts.text_for("file:///a.py", documents.text_of) == "B"
    assert documents.reads == reads
    documents["file:///b.py"] = "B2"
    texts.changed("file:///b.py")
    assert texts.text_for("file:///a.py", documents.text_of) == "B2"
    assert documents.reads == reads + 1


def test_memory_text_is_bounded_at_a_document_boundary() -> None:
    limit = MEMORY_TEXT_BYTES
    assert MemoryTexts().limit_bytes == limit == 256 * 1024
    big = "é" * (limit // 2)  # exactly the limit in UTF-8
    documents = Documents({"file:///a": "a", "file:///b": "b" * 1000, "file:///c": big})
    texts = MemoryTexts()
    for uri in documents:
        texts.opened(uri, "python")
    # c is the most recent; b would not fit after it, so a and b are left out.
    assert texts.text_for("file:///a", documents.text_of) == big
    texts.changed("file:///b")
    assert texts.text_for("file:///a", documents.text_of) == "b" * 1000  # big no longer fits
    # A most recent document larger than the limit alone is cut, not left out.
    documents["file:///c"] = "x" + big
    texts.changed("file:///c")
    text = texts.text_for("file:///a", documents.text_of)
    assert text == "x" + big[:-1] and len(text.encode()) == limit - 1


@pytest.mark.parametrize(
    ("language_id", "uri", "expected"),
    [
        ("python", "file:///x", "python"),
        ("typescriptreact", "file:///x", "typescript"),
        ("", "file:///src/main.rs", "rust"),
        ("plaintext", "file:///a/b.hpp", "cpp"),
        ("plaintext", "untitled:Untitled-1", None),
        (None, "file:///notes.md", None),
    ],
)
def test_language_routing(language_id: str | None, uri: str, expected: str | None) -> None:
    assert language_of(language_id, uri) == expected


def test_model_store_loads_once_and_reports_once(tiny_model_path: Path, tmp_path: Path) -> None:
    (tmp_path / "python.ttc").write_bytes(tiny_model_path.read_bytes())
    (tmp_path / "rust.ttc").write_bytes(b"TTCM broken")
    store = ModelStore(tmp_path)
    first, problem = store.get("python")
    assert problem is None and store.get("python")[0] is first
    model, problem = store.get("rust")
    assert model is None and "truncated" in problem
    assert store.get("rust") == (None, None)
    assert store.get("go") == (None, f"go.ttc is missing from {tmp_path}")
    assert store.get("go") == (None, None)
    assert "--models-dir" in store.fix()


def test_model_store_names_a_models_folder_that_does_not_exist(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "nowhere")
    assert store.get("python") == (None, f"the models folder {tmp_path / 'nowhere'} does not exist")
    assert "pip install --force-reinstall ttcc" in ModelStore(shipped_models_dir()).fix()


def test_session_pool_keeps_within_budget(tiny_model_path: Path) -> None:
    model = Model.load(tiny_model_path)
    one_session = model.session().memory_bytes
    pool = SessionPool(budget_bytes=3 * one_session)
    for name in "abcde":
        pool.get(f"file:///{name}", model)
    assert len(pool) == 3 and "file:///a" not in pool and "file:///e" in pool
    pool.get("file:///c", model)  # c is now the most recent
    pool.get("file:///f", model)
    assert "file:///c" in pool and "file:///d" not in pool
    pool.drop("file:///c")
    assert "file:///c" not in pool and pool.memory_bytes <= 3 * one_session


def test_cursor_positions() -> None:
    document = TextDocument("file:///a.py", "ab😀c\r\nd\n")
    cursor = cursor_at(document, types.Position(0, 4))  # after the emoji (2 UTF-16 units)
    assert (cursor.prefix, cursor.suffix) == ("ab😀", "c\r\nd\n")
    assert cursor_at(document, types.Position(0, 40)).prefix == "ab😀c"
    assert cursor_at(document, types.Position(2, 0)).prefix == "ab😀c\r\nd\n"
    assert cursor_at(document, types.Position(3, 0)) is None
    assert cursor_at(TextDocument("file:///b", ""), types.Position(0, 0)).prefix == ""


def test_items_use_utf16_units() -> None:
    document = TextDocument("file:///a.py", "s = f('é😀', \n")
    cursor = cursor_at(document, types.Position(0, 13))
    item = inline_item("b)", cursor)
    assert item.range.start == item.range.end == types.Position(0, 13)
    word_document = TextDocument("file:///b.py", "value = prin")
    completion = completion_item("t(x)", cursor_at(word_document, types.Position(0, 12)))
    assert completion.text_edit.new_text == "print(x)"
    assert completion.text_edit.range.start == types.Position(0, 8)
    assert completion.filter_text == "print(x)"


def test_server_reads_stdin_from_a_file(tmp_path: Path) -> None:
    """Pipes are read by asyncio; a regular file falls back to pygls's reader."""
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}},
        {"jsonrpc": "2.0", "id": 2, "method": "shutdown"},
        {"jsonrpc": "2.0", "method": "exit"},
    ]
    framed = b"".join(
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        for body in (json.dumps(message).encode() for message in messages)
    )
    (tmp_path / "input").write_bytes(framed)
    with (tmp_path / "input").open("rb") as stdin:
        result = subprocess.run(
            [sys.executable, "-m", "server", "--models-dir", str(tmp_path)],
            stdin=stdin, capture_output=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert b'"inlineCompletionProvider"' in result.stdout
