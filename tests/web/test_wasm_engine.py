"""The engine compiled to WebAssembly (web_demo/engine.wasm and engine-relaxed.wasm
through web_demo/engine.js) suggests exactly what the native engine (server.engine)
suggests for the same input.

The cases run in order in one session on each side, so reuse of earlier work is
compared too (forwarded token counts): in node (tests/node/engine_wasm_check.mjs),
with the module engine.js prefers there (node 20 has no relaxed SIMD by default, and
computes its dot product differently behind a flag: engine.wasm, and engine.js says
why), and in headless Chromium through Playwright (tests/node/engine_cases.mjs in a
page), where the relaxed SIMD module runs and passes its self-check.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.browser import chromium, static_site
from training.export import export_ttc
from training.model import PRESETS, Transformer
from ttcc import shipped_models_dir
from ttcc.engine import MEMORY_TEXT_BYTES, Model, ModelError

ROOT = Path(__file__).resolve().parents[2]
WASM = ROOT / "web_demo" / "engine.wasm"
RELAXED_WASM = ROOT / "web_demo" / "engine-relaxed.wasm"
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
    # where a BOS prompt first outgrows the window: it keeps room for a suggestion
    first_move = window - min(window // 8, 256)
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
        {"prefix": "class A:\n    def f(self):", "options": {"multiline": "auto",
                                                           "min_confidence": 0.0}},
        {"prefix": "x = f(", "suffix": ")\n", "options": {"multiline": "auto",
                                                         "min_confidence": 0.0}},
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
        # typing on across the first move of the window's start, idle work in between
        *({"prefix": long_doc[:n], "options": {"min_confidence": 0.0}, "prepare": 48}
          for n in range(first_move - window // 16, first_move + window // 32,
                         max(3, window // 96))),
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
        # no options: each binding takes the engine's defaults (the memory copies "eta")
        {"prefix": REPEATED},
        *memory_cases(),
    ]
    return cases


# Texts where the document memory decides the suggestion: an identifier seen before
# the cursor, after it, or only in the other open documents (memory_text).
REPEATED = "alpha_beta_gamma = 1\nx = 2\nalpha_b"
LATER = ("result = compute_t", "\n\ndef compute_total(values):\n    return sum(values)\n")
OTHER_FILE = "other_identifier_name = 3\nnaïve_total = 'é'\r\n"


def memory_cases() -> list[dict[str, Any]]:
    """Cases with the document memory on (the default) and off, with and without
    memory_text; in pairs that differ only in the memory, in one session."""
    # memory_text longer than the engine reads: it stops inside a 2-byte character
    long_other = "x" + "é" * (MEMORY_TEXT_BYTES // 2) + OTHER_FILE
    cases: list[dict[str, Any]] = []
    for memory in (True, False):
        for min_confidence in (0.5, 0.0):
            options = {"document_memory": memory, "min_confidence": min_confidence}
            cases += [
                {"prefix": REPEATED, "options": options},
                {"prefix": LATER[0], "suffix": LATER[1], "options": options},
                {"prefix": "y = other_i", "options": {**options, "memory_text": OTHER_FILE}},
                {"prefix": "y = naïve_t", "options": {**options, "memory_text": OTHER_FILE}},
                {"prefix": "y = other_i", "options": options},  # the other file closed
                {"prefix": "y = other_i", "options": {**options, "memory_text": long_other}},
                {
                    "prefix": REPEATED,
                    "options": {**options, "multiline": True, "memory_text": OTHER_FILE},
                },
            ]
    return cases


@pytest.mark.parametrize("model_fixture", ["tiny_model_path", "varied_tiny_path"])
def test_memory_cases_depend_on_the_memory(model_fixture: str, request: Any) -> None:
    """The memory cases are worth comparing: with the memory off, suggestions change."""
    model = Model.load(request.getfixturevalue(model_fixture))
    results = [r["text"] for r in native_results_of(model, memory_cases())]
    half = len(results) // 2
    with_memory, without = results[:half], results[half:]
    changed = sum(a != b for a, b in zip(with_memory, without, strict=True))
    assert changed >= half // 2, list(zip(with_memory, without, strict=True))


def native_results(model_path: Path, cases: list[dict[str, Any]],
                   draft_tokens: int = 1) -> list[dict[str, Any]]:
    return native_results_of(Model.load(model_path), cases, draft_tokens)


def native_results_of(model: Model, cases: list[dict[str, Any]],
                      draft_tokens: int = 1) -> list[dict[str, Any]]:
    """The cases' suggestions and the tokens run so far after each; one token a pass
    unless draft_tokens says (the engines' defaults differ by kernels, their results
    do not)."""
    session = model.session(draft_tokens=draft_tokens)
    results = []
    for case in cases:
        prefix, suffix = case["prefix"], case.get("suffix", "")
        result = {"text": session.complete(prefix, suffix, **case.get("options", {}))}
        if "prepare" in case:
            result["prepared"] = 0
            while ran := session.prepare(prefix, suffix, max_tokens=case["prepare"],
                                         **case.get("options", {})):
                result["prepared"] += ran
        results.append(result | {"forwarded": session.forwarded_tokens})
    return results


def run_wasm(
    model_path: Path, cases: list[dict[str, Any]], tmp_path: Path, module: str = "preferred",
    draft_tokens: int = 1,
) -> dict[str, Any]:
    """The cases in node; module: "preferred" (engine.js's choice), "simd128", "relaxed";
    draft_tokens: the session's (0: the engine's default)."""
    cases_path = tmp_path / "cases.json"
    cases_path.write_text(json.dumps({"cases": cases, "draftTokens": draft_tokens}),
                          encoding="utf-8")
    for path in (WASM, RELAXED_WASM):
        assert path.exists(), f"{path.name} is missing: run bash web_demo/build_wasm.sh"
    completed = subprocess.run(
        [NODE, str(CHECK_SCRIPT), str(model_path), str(cases_path), module],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


@pytest.fixture(scope="module")
def chromium_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """(page, site root, base URL): a blank page of a static server over a tree with
    web_demo/ and tests/node/ linked in; models go into the root."""
    root = tmp_path_factory.mktemp("wasm_site")
    (root / "web_demo").symlink_to(ROOT / "web_demo", target_is_directory=True)
    (root / "tests").mkdir()
    (root / "tests" / "node").symlink_to(ROOT / "tests" / "node", target_is_directory=True)
    (root / "index.html").write_text("<!doctype html><title>wasm check</title>\n")
    with static_site(root) as site, chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(600_000)
        page.goto(f"{site}/index.html")
        yield page, root, site


CHROMIUM_RUN = """async ([model, cases, module]) => {
  const engineJs = await import('/web_demo/engine.js');
  const { runCases } = await import('/tests/node/engine_cases.mjs');
  const fetchBytes = async (name) => {
    const response = await fetch('/web_demo/' + name);
    if (!response.ok) throw new Error(name + ': HTTP ' + response.status);
    return new Uint8Array(await response.arrayBuffer());
  };
  const engine = module === 'preferred'
    ? await engineJs.loadPreferredEngine(fetchBytes)
    : await engineJs.loadEngine(await fetchBytes(
        module === 'relaxed' ? engineJs.RELAXED_MODULE : engineJs.SIMD128_MODULE));
  const modelBytes = new Uint8Array(await (await fetch('/' + model)).arrayBuffer());
  return runCases(engine, modelBytes, model, cases);
}"""


def run_chromium(
    chromium_page: Any, model_path: Path, cases: list[dict[str, Any]], module: str = "preferred"
) -> dict[str, Any]:
    """The cases in a Chromium page (run_wasm's result)."""
    page, root, _ = chromium_page
    shutil.copy(model_path, root / model_path.name)
    return page.evaluate(CHROMIUM_RUN, [model_path.name, cases, module])


SNAKE = {"hiddenDim": "hidden_dim", "nLayers": "n_layers", "nHeads": "n_heads"}
SNAKE |= {"nKvHeads": "n_kv_heads", "vocabSize": "vocab_size", "groupSize": "group_size"}
SNAKE |= {"tiedClassifier": "tied_classifier", "fileSize": "file_size"}


def assert_same_as_native(model_path: Path, got_for: Any) -> dict[str, Any]:
    """got_for(model_path, cases): the WebAssembly side's results; returns them."""
    model = Model.load(model_path)
    cases = make_cases(model.info.window)
    want = native_results(model_path, cases)
    got = got_for(model_path, cases)

    assert got["kernels"] == "wasm"
    assert got["selfCheck"] is True
    assert got["variant"] in ("relaxed-simd", "simd128")
    if got["variant"] == "relaxed-simd":
        assert got["fallbackReason"] is None
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
    return got


def in_node(tmp_path: Path, module: str = "preferred") -> Any:
    return lambda model_path, cases: run_wasm(model_path, cases, tmp_path, module)


def in_chromium(chromium_page: Any, module: str = "preferred") -> Any:
    return lambda model_path, cases: run_chromium(chromium_page, model_path, cases, module)


def node_runs_relaxed_simd() -> bool:
    """Whether this node validates engine-relaxed.wasm without flags (node 20 does not)."""
    script = (
        "const fs = require('fs');"
        f"console.log(WebAssembly.validate(fs.readFileSync({json.dumps(str(RELAXED_WASM))})))"
    )
    completed = subprocess.run([NODE, "-e", script], capture_output=True, text=True, check=True)
    return completed.stdout.strip() == "true"


@needs_node
def test_tiny_random_model_same_as_native(tiny_model_path: Path, tmp_path: Path) -> None:
    """The conftest model: its tied classifier mostly repeats the last character."""
    model = Model.load(tiny_model_path)
    cases = make_cases(model.info.window)
    got = run_wasm(tiny_model_path, cases, tmp_path)
    assert got["results"] == native_results(tiny_model_path, cases)


@needs_node
def test_drafts_change_no_suggestion_in_wasm_either(tmp_path: Path) -> None:
    """A shipped model whose document memory drafts often: checking 8 drafted tokens a
    pass gives the suggestions of one token a pass, in wasm as natively, and runs the
    same tokens in both."""
    model_path = shipped_models_dir() / "python.ttc"
    cases = [{"prefix": PYTHON_CODE[:n]} for n in range(40, len(PYTHON_CODE), 7)]
    plain = native_results(model_path, cases, draft_tokens=1)
    drafted = native_results(model_path, cases, draft_tokens=8)
    assert [r["text"] for r in drafted] == [r["text"] for r in plain]
    assert drafted[-1]["forwarded"] != plain[-1]["forwarded"], "no draft was run"
    assert run_wasm(model_path, cases, tmp_path, draft_tokens=8)["results"] == drafted


@needs_node
def test_varied_tiny_model_same_as_native(varied_tiny_path: Path, tmp_path: Path) -> None:
    """In node, with the module engine.js picks there (engine.wasm in node 20)."""
    got = assert_same_as_native(varied_tiny_path, in_node(tmp_path))
    if not node_runs_relaxed_simd():
        assert got["variant"] == "simd128"
        assert got["fallbackReason"] == "relaxed SIMD is not supported here"


@needs_node
def test_varied_seed_size_model_same_as_native(varied_seed_path: Path, tmp_path: Path) -> None:
    assert_same_as_native(varied_seed_path, in_node(tmp_path, "simd128"))


def test_chromium_takes_the_relaxed_simd_module(chromium_page: Any, tiny_model_path: Path) -> None:
    """Chromium runs relaxed SIMD (since 114) the way the kernels need: engine.js takes
    engine-relaxed.wasm, and its suggestions are the native engine's."""
    model = Model.load(tiny_model_path)
    cases = make_cases(model.info.window)
    got = run_chromium(chromium_page, tiny_model_path, cases)
    assert (got["variant"], got["fallbackReason"], got["selfCheck"]) == ("relaxed-simd", None, True)
    assert got["results"] == native_results(tiny_model_path, cases)


@pytest.mark.parametrize("module", ["relaxed", "simd128"])
def test_varied_tiny_model_same_as_native_in_chromium(
    chromium_page: Any, varied_tiny_path: Path, module: str
) -> None:
    got = assert_same_as_native(varied_tiny_path, in_chromium(chromium_page, module))
    assert got["variant"] == ("relaxed-simd" if module == "relaxed" else "simd128")


def test_varied_seed_size_model_same_as_native_in_chromium(
    chromium_page: Any, varied_seed_path: Path
) -> None:
    got = assert_same_as_native(varied_seed_path, in_chromium(chromium_page))
    assert got["variant"] == "relaxed-simd"


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
    shutil.which("clang") is None
    or shutil.which("wasm-ld") is None
    or shutil.which(os.environ.get("CLANG_RELAXED", "clang-16")) is None,
    reason="clang, wasm-ld and clang-16 (with lld-16) are needed to build the modules",
)
def test_committed_engine_wasm_is_up_to_date() -> None:
    """Both modules: engine.wasm and engine-relaxed.wasm."""
    completed = subprocess.run(
        ["bash", str(ROOT / "web_demo" / "build_wasm.sh"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
