"""The engine compiled to WebAssembly (web_demo/engine.wasm through web_demo/engine.js)
suggests exactly what the native engine (server.engine) suggests for the same input.

The cases run in node (tests/node/engine_wasm_check.mjs), in order in one session on
each side, so reuse of earlier work is compared too (forwarded token counts).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import torch

from server.engine import Model, ModelError
from training.export import export_ttc
from training.model import PRESETS, Transformer

ROOT = Path(__file__).resolve().parent.parent
WASM = ROOT / "web_demo" / "engine.wasm"
CHECK_SCRIPT = ROOT / "tests" / "node" / "engine_wasm_check.mjs"
NODE = shutil.which("node")

needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


def export_varied(preset: str, path: Path, seed: int = 1) -> Path:
    """A random model with its own, sharpened classifier: unlike a random model whose
    classifier is the embedding (which mostly repeats the last character), it suggests
    varied text that depends on the whole context."""
    torch.manual_seed(seed)
    model = Transformer(dataclasses.replace(PRESETS[preset], tied_embeddings=False))
    with torch.no_grad():
        model.output.weight.mul_(10.0)
    export_ttc(model, path, {"language": "test", "note": "wasm ✓"})
    return path


@pytest.fixture(scope="module")
def varied_tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_varied("tiny", tmp_path_factory.mktemp("wasm") / "tiny_varied.ttc")


@pytest.fixture(scope="module")
def varied_seed_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_varied("seed", tmp_path_factory.mktemp("wasm") / "seed_varied.ttc")


PYTHON_CODE = (
    "import os\n\n\ndef read(path):\n    with open(path) as f:\n        return f.read()\n\n\n"
    "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\n\n"
)


def make_cases(window: int) -> list[dict[str, Any]]:
    """About 40 (prefix, suffix, options) cases; `window` sizes the long documents."""
    long_doc = (PYTHON_CODE * (3 * window // len(PYTHON_CODE) + 2))[: 3 * window + 17]
    typed = "def add(a, b):\n    return a + b"
    cases: list[dict[str, Any]] = [
        {"prefix": "def f(x):\n    return "},
        {"prefix": "def f(x):\n    return ", "options": {"min_confidence": 0.0}},
        {"prefix": "import os\n", "options": {"min_confidence": 0.0, "max_chars": 30}},
        {"prefix": "x = [1, 2, ", "options": {"min_confidence": 0.01}},
        {"prefix": "", "suffix": ""},
        {"prefix": "", "suffix": "", "options": {"min_confidence": 0.0}},
        {"prefix": "   \n\t", "options": {"min_confidence": 0.0}},
        # typing one character at a time: each request extends the last one
        *({"prefix": typed[:n], "options": {"min_confidence": 0.0}} for n in range(14, 22)),
        # non-ASCII: accents, a symbol, a 4-byte emoji (a surrogate pair in JS), CJK
        {"prefix": "naïve = 'héllo ✓ 🎉 中文'\nprint(naïve", "options": {"min_confidence": 0}},
        {"prefix": "s = '🎉🎉🎉", "suffix": "'  # ünïcode\n", "options": {"min_confidence": 0}},
        # a lone surrogate: U+FFFD in JS, surrogatepass in Python; one UNK either way
        {"prefix": "bad = '\ud800x", "suffix": "\udfff'\n", "options": {"min_confidence": 0}},
        {"prefix": "ctrl\x00\x01\x7f\x1b[0m = ", "options": {"min_confidence": 0}},
        # CRLF, a lone CR, and a CRLF split between prefix and suffix
        {"prefix": "a = 1\r\nb = 2\r\nc = ", "options": {"min_confidence": 0}},
        {"prefix": "a = 1\rb = ", "suffix": "\r\n", "options": {"min_confidence": 0}},
        {"prefix": "line\r", "suffix": "\nnext = 3\r\n", "options": {"min_confidence": 0}},
        # multi-line blocks
        {
            "prefix": "def g():\n    if x:\n        ",
            "options": {"multiline": True, "min_confidence": 0.0, "max_chars": 256},
        },
        {
            "prefix": "def g():\n    if x:\n",
            "options": {"multiline": True, "min_confidence": 0.0, "max_chars": 200},
        },
        {"prefix": "items = {\n    'a': (", "options": {"multiline": True, "min_confidence": 0.0}},
        {"prefix": "class A:\n    ", "options": {"multiline": True}},
        # fill in the middle; a blank-only suffix counts as none
        {"prefix": "def mul(a, b):\n    return ", "suffix": "\n\nprint(mul(2, 3))\n"},
        {
            "prefix": "def mul(a, b):\n    return ",
            "suffix": "\n\nprint(mul(2, 3))\n",
            "options": {"min_confidence": 0.0},
        },
        {
            "prefix": "for i in range(",
            "suffix": "):\n    print(i)\n",
            "options": {"min_confidence": 0.0, "multiline": True},
        },
        {"prefix": "x = ", "suffix": "   \n\n\t", "options": {"min_confidence": 0.0}},
        {"prefix": "y = (", "suffix": ")", "options": {"min_confidence": 0.0}},
        # option edges
        {"prefix": "z = ", "options": {"max_chars": 1, "min_confidence": 0.0}},
        {"prefix": "z = ", "options": {"max_chars": 256, "min_confidence": 0.0}},
        {"prefix": "z = ", "options": {"min_confidence": 1.0}},
        {"prefix": "z = ", "options": {"min_confidence": 0.001, "multiline": True}},
        # documents longer than the window, at the end and in the middle
        {"prefix": long_doc, "options": {"min_confidence": 0.0}},
        {"prefix": long_doc + "    x = ", "options": {"min_confidence": 0.0}},
        {
            "prefix": long_doc[: 2 * window],
            "suffix": long_doc[2 * window :],
            "options": {"min_confidence": 0.0, "multiline": True},
        },
        {"prefix": "é" * (window + 5) + "\nq = ", "options": {"min_confidence": 0.0}},
        # back to a short document in the same session
        {"prefix": "def f(x):\n    return ", "options": {"min_confidence": 0.0}},
    ]
    return cases


def native_results(model_path: Path, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    session = Model.load(model_path).session()
    results = []
    for case in cases:
        text = session.complete(case["prefix"], case.get("suffix", ""), **case.get("options", {}))
        results.append({"text": text, "forwarded": session.forwarded_tokens})
    return results


def run_wasm(model_path: Path, cases: list[dict[str, Any]], tmp_path: Path) -> dict[str, Any]:
    cases_path = tmp_path / "cases.json"
    cases_path.write_text(json.dumps({"cases": cases}), encoding="utf-8")
    assert WASM.exists(), "web_demo/engine.wasm is missing: run bash web_demo/build_wasm.sh"
    completed = subprocess.run(
        [NODE, str(CHECK_SCRIPT), str(model_path), str(cases_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


SNAKE = {"hiddenDim": "hidden_dim", "nLayers": "n_layers", "nHeads": "n_heads"}
SNAKE |= {"nKvHeads": "n_kv_heads", "vocabSize": "vocab_size", "groupSize": "group_size"}
SNAKE |= {"tiedClassifier": "tied_classifier", "fileSize": "file_size"}


def assert_same_as_native(model_path: Path, tmp_path: Path) -> None:
    model = Model.load(model_path)
    cases = make_cases(model.info.window)
    want = native_results(model_path, cases)
    got = run_wasm(model_path, cases, tmp_path)

    assert got["kernels"] == "wasm"
    info = {SNAKE.get(key, key): value for key, value in got["info"].items()}
    assert info == dataclasses.asdict(model.info)
    assert got["metadata"] == model.metadata
    assert len(got["results"]) == len(cases)
    for case, native, wasm in zip(cases, want, got["results"], strict=True):
        assert wasm == native, f"case {case!r}"
    assert sum(bool(r["text"]) for r in want) >= len(cases) // 2, "too few suggestions to compare"

    # Creating and freeing sessions (and models) reuses the same memory.
    sessions, models = got["memory"]["sessions"], got["memory"]["models"]
    assert len(sessions) == 50 and set(sessions[3:]) == {sessions[3]}
    assert len(models) == 10 and set(models[2:]) == {models[2]}


@needs_node
def test_tiny_random_model_same_as_native(tiny_model_path: Path, tmp_path: Path) -> None:
    """The conftest model: its tied classifier mostly repeats the last character."""
    model = Model.load(tiny_model_path)
    cases = make_cases(model.info.window)
    got = run_wasm(tiny_model_path, cases, tmp_path)
    assert got["results"] == native_results(tiny_model_path, cases)


@needs_node
def test_varied_tiny_model_same_as_native(varied_tiny_path: Path, tmp_path: Path) -> None:
    assert_same_as_native(varied_tiny_path, tmp_path)


@needs_node
def test_varied_seed_size_model_same_as_native(varied_seed_path: Path, tmp_path: Path) -> None:
    assert_same_as_native(varied_seed_path, tmp_path)


def damage(data: bytes, how: str) -> bytes:
    if how == "truncated":
        return data[: len(data) // 2]
    if how == "bad magic":
        return b"XXXX" + data[4:]
    flipped = bytearray(data)  # a weight byte: only the checksum can tell
    flipped[-100] ^= 0x01
    return bytes(flipped)


@needs_node
@pytest.mark.parametrize("how", ["truncated", "bad magic", "flipped byte"])
def test_damaged_model_gives_the_native_error(
    tiny_model_path: Path, tmp_path: Path, how: str
) -> None:
    path = tmp_path / "damaged.ttc"
    path.write_bytes(damage(tiny_model_path.read_bytes(), how))
    with pytest.raises(ModelError) as native:
        Model.load(path)
    got = run_wasm(path, [], tmp_path)
    assert got == {"error": str(native.value)}


@pytest.mark.skipif(
    shutil.which("clang") is None or shutil.which("wasm-ld") is None,
    reason="clang and wasm-ld are needed to build engine.wasm",
)
def test_committed_engine_wasm_is_up_to_date() -> None:
    completed = subprocess.run(
        ["bash", str(ROOT / "web_demo" / "build_wasm.sh"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
