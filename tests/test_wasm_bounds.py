"""The WebAssembly engine (web_demo/engine.wasm) on damaged model files, each placed so
that it ends exactly where the module's memory ends: a read past the file would trap
(tests/node/wasm_bounds.mjs). Every load must give the native engine's status.

tests/node/engine_wasm_bounds.test.mjs does the same with every byte of the fuzz
corpus's small models, and checks that the bytes before a file do not matter."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from server.engine import Model, ModelError
from training.export import CHECKSUM_OFFSET, compute_checksum

ROOT = Path(__file__).resolve().parent.parent
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
