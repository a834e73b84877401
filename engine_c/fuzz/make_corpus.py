"""Writes the fuzz targets' seed inputs (engine_c/fuzz/README.md):

    .venv/bin/python engine_c/fuzz/make_corpus.py

loader_corpus/: small valid model files (random weights), among them session.ttc, the
model fuzz_session runs, and variants of one at the format's edges: truncated, with
invalid weights, with the largest window.
session_corpus/: operation sequences for fuzz_session (fuzz_session.c decodes them).

The files are committed (about 70 KB); rerun this after a format change.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from training.export import CHECKSUM_OFFSET, compute_checksum, export_ttc  # noqa: E402
from training.model import ModelConfig, Transformer  # noqa: E402

HERE = Path(__file__).resolve().parent
LOADER = HERE / "loader_corpus"
SESSION = HERE / "session_corpus"

# The smallest shapes the format allows, with grouped-query attention.
TINY = ModelConfig(dim=32, n_layers=1, n_heads=2, n_kv_heads=1, hidden_dim=32, window=16)
# fuzz_session's model: a window small enough that most documents overflow it,
# its own classifier (so suggestions vary with the context) and a fitted memory blend.
FOR_SESSIONS = ModelConfig(
    dim=32, n_layers=1, n_heads=2, n_kv_heads=2, hidden_dim=64, window=64, tied_embeddings=False
)
METADATA = {"language": "fuzz", "created": "2025-01-01"}


def export(config: ModelConfig, path: Path, seed: int, **options: object) -> bytes:
    torch.manual_seed(seed)
    model = Transformer(config)
    if not config.tied_embeddings:
        with torch.no_grad():
            model.output.weight.mul_(10.0)  # sharper: suggestions that depend on the context
    export_ttc(model, path, METADATA, **options)
    return path.read_bytes()


def with_checksum(data: bytearray) -> bytes:
    struct.pack_into("<I", data, CHECKSUM_OFFSET, compute_checksum(data))
    return bytes(data)


def weights_offset(data: bytes) -> int:
    return int(struct.unpack_from("<Q", data, 72)[0])


def near_valid(tiny: bytes) -> dict[str, bytes]:
    """Variants of the tiny model: a truncated, two with invalid weights (checksums
    right) and one with the largest window the format allows."""
    first_weight = weights_offset(tiny)  # the token embedding's first int8 value
    minus_128 = bytearray(tiny)
    minus_128[first_weight] = 0x80
    # The first layer's attention_norm follows the embedding's values and scales.
    norm = first_weight + TINY.vocab_size * TINY.dim + TINY.vocab_size * TINY.dim // 32 * 4
    nan_norm = bytearray(tiny)
    nan_norm[norm : norm + 4] = struct.pack("<f", float("nan"))
    longer_window = bytearray(tiny)
    struct.pack_into("<I", longer_window, 40, 65536)
    return {
        "header_only.ttc": tiny[:128],
        "weight_minus_128.ttc": with_checksum(minus_128),
        "nan_norm.ttc": with_checksum(nan_norm),
        "window_65536.ttc": with_checksum(longer_window),
    }


# fuzz_session.c's opcodes; each takes the argument bytes listed there.
TYPE, BACKSPACE, REPLACE, MOVE, PASTE, COMPLETE, SCORE, LOGITS, RECREATE, RETYPED = range(10)
CODE = b"def area(w, h):\n    return w * h\n\n\nprint(area(2, 3))\n"


def typing_session() -> bytes:
    """Types a short function a few characters at a time, completing after each
    (single and multi-line, with and without the memory)."""
    ops = bytearray()
    for start in range(0, len(CODE), 5):
        piece = CODE[start : start + 5]
        ops += bytes([TYPE, len(piece)]) + piece
        ops += bytes([COMPLETE, start % 4, 31, 0])  # flags, max_chars - 1, confidence
    return bytes(ops)


def editing_session() -> bytes:
    """Every operation once: an edit in the middle, fill in the middle with other
    text for the memory, a document beyond the window, scoring, logits, new sessions."""
    ops = bytearray([TYPE, len(CODE)]) + CODE
    ops += bytes([MOVE, 0x00, 0x40, COMPLETE, 0x04 | 0x01, 63, 10, 0x00, 0x80])
    ops += bytes([REPLACE, 0x00, 0x20, 3, 4]) + "é\r\n".encode()
    ops += bytes([BACKSPACE, 2, PASTE, PASTE, PASTE, COMPLETE, 0x10, 255, 0])
    ops += bytes([SCORE, 0x02, 0x00, 0x00, 200, 0, SCORE, 0x01, 0x00, 0x80, 100, 0])
    ops += bytes([LOGITS, 1, 7, 2]) + b"x = 1\n\t\0"
    ops += bytes([RECREATE, 0, 0x13, COMPLETE, 0x08, 15, 128])
    ops += bytes([COMPLETE, 0x20 | 0x40, 15, 128, RETYPED, 3]) + b"a) "
    ops += bytes([2]) + b") "
    return bytes(ops)


def main() -> None:
    LOADER.mkdir(exist_ok=True)
    SESSION.mkdir(exist_ok=True)
    tiny = export(TINY, LOADER / "tiny.ttc", seed=1)
    export(FOR_SESSIONS, LOADER / "session.ttc", seed=2, memory_blend=[-2.5, 1.2, 0.4, -1.5, 1.8])
    for name, data in near_valid(tiny).items():
        (LOADER / name).write_bytes(data)
    (SESSION / "typing").write_bytes(typing_session())
    (SESSION / "editing").write_bytes(editing_session())
    sizes = sum(path.stat().st_size for path in LOADER.iterdir())
    print(f"wrote {LOADER} ({sizes} bytes) and {SESSION}")


if __name__ == "__main__":
    main()
