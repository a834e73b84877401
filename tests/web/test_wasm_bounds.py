"""The WebAssembly engine (web_demo/engine.wasm) on damaged model files, each placed so
that it ends exactly where the module's memory ends: a read past the file would trap
(tests/node/wasm_bounds.mjs). Every load must give the native engine's status.

tests/node/engine_wasm_bounds.test.mjs does the same with every byte of the fuzz
corpus's small models, for both modules, and checks that the bytes before a file do not
matter; the last test here runs it with relaxed SIMD on where node needs a flag for it."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from training.export import CHECKSUM_OFFSET, compute_checksum
from ttcc.engine import Model, ModelError

ROOT = Path(__file__).resolve().parents[2]
CHECK_SCRIPT = ROOT / "tests" / "node" / "wasm_bounds_check.mjs"
NODE = shutil.which("node")


def rebuild(good: bytes, damage: dict[str, Any]) -> bytes:
    """The damaged copy wasm_bounds.mjs's damagedCopies describes with damage."""
    if "truncate" in damage:
        return good[: damage["truncate"]]
    data = bytearray(good)
    data[damage["flip"]] ^= 1 << damage["bit"]
    if damage["repaired"]:
        struct.pack_into("<I", data, CHECKSUM_OFFSET, compute_checksum(data))
    return bytes(data)


def native_message(data: bytes) -> str:
    try:
        Model.from_bytes(data, name="damaged")
    except ModelError as error:
        return str(error).removeprefix("damaged: ")
    return "ok"


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_damaged_models_give_the_native_status_without_reading_past_them(
    tiny_model_path: Path,
) -> None:
    good = tiny_model_path.read_bytes()
    step = 97  # every byte of the header, then every 97th: truncations and bit flips
    completed = subprocess.run(
        [NODE, str(CHECK_SCRIPT), str(tiny_model_path), str(step)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    results = json.loads(completed.stdout)
    assert len(results) == 3 * (128 + -(-(len(good) - 128) // step))
    for result in results:
        native = native_message(rebuild(good, result["damage"]))
        assert result["message"] == native, result["damage"]
    messages = {result["message"] for result in results}
    assert {"ok", "model file is truncated"} <= messages and len(messages) >= 5, messages


RELAXED_SIMD_FLAG = "--experimental-wasm-relaxed-simd"
BOUNDS_TEST = ROOT / "tests" / "node" / "engine_wasm_bounds.test.mjs"


def relaxed_simd_needs_a_flag() -> bool:
    """Whether this node runs relaxed SIMD only with RELAXED_SIMD_FLAG (node 20);
    without it (tests/engine/test_native_suites.py's node run), the bounds test skips
    engine-relaxed.wasm."""
    probe = subprocess.run([NODE, RELAXED_SIMD_FLAG, "-e", "0"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(
    NODE is None or not relaxed_simd_needs_a_flag(),
    reason="node is missing, or runs relaxed SIMD without a flag (then the node suite covers it)",
)
def test_relaxed_module_does_not_read_past_damaged_models() -> None:
    completed = subprocess.run(
        [NODE, RELAXED_SIMD_FLAG, "--test", str(BOUNDS_TEST)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-4000:]
    assert "# skipped 0" in output and "# fail 0" in output, output[-4000:]
