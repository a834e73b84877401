"""Export a model to the engine's ttc format (engine_c/FORMAT.md), or to llama2.c's
int8 "version 2" checkpoint.

    python -m training.export --checkpoint out/ckpt.pt --language python --out python.ttc
    python -m training.export --random --preset tiny --out /tmp/tiny.ttc
    python -m training.export --checkpoint out/ckpt.pt --llama2c --out model.bin
    python -m training.export --show ttcc/models/python.ttc
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import math
import os
import struct
import sys
import tempfile
import warnings
import zlib
from collections.abc import Iterator, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from training.model import PRESETS, ModelConfig, Transformer, load_checkpoint
from training.tokens import VOCAB_SIZE

MAGIC = b"TTCM"
VERSION = 1
HEADER_SIZE = 128
ALIGN = 64
FLAG_TIED = 1
FLAG_MEMORY_BLEND = 2  # the header carries the document memory's fitted blend
MEMORY_BLEND_PARAMS = 5
CHECKSUM_OFFSET = 96
METADATA_FORMAT = "ttc-1"

# magic, version, header_size, flags, dim, hidden_dim, n_layers, n_heads, n_kv_heads,
# vocab_size, window, group_size, rope_theta, norm_eps, metadata_offset, metadata_size,
# weights_offset, weights_size, file_size, checksum, memory_blend (5 floats), 8 reserved.
_HEADER = struct.Struct("<4s11I2f5QI5f8x")
_HEADER_FIELDS = (
    "magic",
    "version",
    "header_size",
    "flags",
    "dim",
    "hidden_dim",
    "n_layers",
    "n_heads",
    "n_kv_heads",
    "vocab_size",
    "window",
    "group_size",
    "rope_theta",
    "norm_eps",
    "metadata_offset",
    "metadata_size",
    "weights_offset",
    "weights_size",
    "file_size",
    "checksum",
    *(f"memory_blend_{i}" for i in range(MEMORY_BLEND_PARAMS)),
)
assert _HEADER.size == HEADER_SIZE

LLAMA2C_MAGIC = 0x616B3432  # "ak42"
LLAMA2C_VERSION = 2
LLAMA2C_HEADER_SIZE = 256
# magic, version, dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
# max_seq_len, shared_classifier, group_size; packed, then zeros up to 256 bytes.
_LLAMA2C_HEADER = struct.Struct("<Ii7iBi")


class ExportError(ValueError):
    """The model or the arguments cannot be exported (a user error, not a bug)."""


class FormatError(ValueError):
    """A file is not a valid ttc model file."""


def _pad(n: int, align: int = ALIGN) -> int:
    return -n % align


def _padded(n: int, align: int = ALIGN) -> int:
    return n + _pad(n, align)


# ---------------------------------------------------------------------------------------
# Quantisation


def quantize_q8(
    tensor: torch.Tensor | np.ndarray, group_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 quantisation in groups along the last axis.

    Each run of `group_size` consecutive values of a row gets scale = max|w| / 127
    (float32) and values rint(w / scale) (round half to even) in [-127, 127]; an
    all-zero group gets scale 0 and values 0. Returns (int8 array shaped like the
    input, float32 scales shaped [..., cols // group_size]).
    """
    if isinstance(tensor, torch.Tensor):
        tensor = tensor.detach().cpu().to(torch.float64).numpy()
    w = np.asarray(tensor, dtype=np.float64)
    if w.ndim == 0:
        raise ExportError("cannot quantise a scalar")
    if group_size < 1 or w.shape[-1] % group_size != 0:
        raise ExportError(
            f"the last dimension ({w.shape[-1]}) is not divisible by the group size ({group_size})"
        )
    if not np.all(np.isfinite(w)):
        raise ExportError("cannot quantise a tensor with NaN or infinite values")
    groups = w.reshape(-1, group_size)
    # The engine multiplies by the float32 scale, so divide by exactly that value.
    scales = (np.abs(groups).max(axis=1) / 127.0).astype(np.float32)
    divisor = scales.astype(np.float64)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(divisor > 0, np.rint(groups / np.where(divisor > 0, divisor, 1.0)), 0.0)
    q = np.clip(q, -127, 127).astype(np.int8)
    return q.reshape(w.shape), scales.reshape(*w.shape[:-1], w.shape[-1] // group_size)


def dequantize_q8(q: np.ndarray, scales: np.ndarray, group_size: int) -> np.ndarray:
    """The float32 weights an int8 tensor and its scales stand for."""
    groups = q.reshape(-1, group_size).astype(np.float32) * scales.reshape(-1, 1)
    return groups.reshape(q.shape)


# ---------------------------------------------------------------------------------------
# The model's tensors, in file order


def _as_transformer(model: nn.Module) -> Transformer:
    while not isinstance(model, Transformer):
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if inner is None:
            raise ExportError(f"expected a training.model.Transformer, got {type(model).__name__}")
        model = inner
    return model


def _matrices(model: Transformer) -> Iterator[torch.Tensor]:
    """Every weight matrix that the export quantises (the classifier only if untied)."""
    yield model.tok_embeddings.weight
    for layer in model.blocks:
        att, ffn = layer.attention, layer.feed_forward
        yield from (
            att.wq.weight,
            att.wk.weight,
            att.wv.weight,
            att.wo.weight,
            ffn.w1.weight,
            ffn.w2.weight,
            ffn.w3.weight,
        )
    if not model.config.tied_embeddings:
        yield model.output.weight


def _ttc_tensors(model: Transformer) -> Iterator[tuple[str, torch.Tensor]]:
    """(kind, tensor) in the order of FORMAT.md's table; kind is "f32" or "q8"."""
    yield "q8", model.tok_embeddings.weight
    for layer in model.blocks:
        att, ffn = layer.attention, layer.feed_forward
        yield "f32", layer.attention_norm.weight
        yield from (
            ("q8", att.wq.weight),
            ("q8", att.wk.weight),
            ("q8", att.wv.weight),
            ("q8", att.wo.weight),
        )
        yield "f32", layer.ffn_norm.weight
        yield from (("q8", ffn.w1.weight), ("q8", ffn.w2.weight), ("q8", ffn.w3.weight))
    yield "f32", model.norm.weight
    if not model.config.tied_embeddings:
        yield "q8", model.output.weight


def check_exportable(cfg: ModelConfig, group_size: int) -> None:
    """Raise ExportError unless FORMAT.md accepts these dimensions."""
    problems = []
    if not (isinstance(group_size, int) and 32 <= group_size <= 256 and group_size % 32 == 0):
        problems.append(f"group size must be a multiple of 32 in 32..256, got {group_size}")
    else:
        for name in ("dim", "hidden_dim"):
            if getattr(cfg, name) % group_size != 0:
                problems.append(
                    f"{name} ({getattr(cfg, name)}) is not divisible by the "
                    f"group size ({group_size})"
                )
    limits = {
        "dim": (1, 4096),
        "hidden_dim": (1, 16384),
        "n_layers": (1, 64),
        "n_heads": (1, 64),
        "window": (16, 65536),
    }
    for name, (lo, hi) in limits.items():
        if not lo <= getattr(cfg, name) <= hi:
            problems.append(f"{name} must be in {lo}..{hi}, got {getattr(cfg, name)}")
    if cfg.vocab_size != VOCAB_SIZE:
        problems.append(
            f"vocab_size must be {VOCAB_SIZE} (one token per 7-bit character), got {cfg.vocab_size}"
        )
    if problems:
        raise ExportError("cannot export this model: " + "; ".join(problems))


def _check_finite(model: Transformer) -> None:
    for name, p in model.named_parameters():
        if not torch.isfinite(p).all():
            raise ExportError(f"parameter {name} has NaN or infinite values")


# ---------------------------------------------------------------------------------------
# ttc


def _preset_name(cfg: ModelConfig) -> str:
    for name, preset in PRESETS.items():
        if preset == cfg:
            return name
    return "custom"


def build_metadata(model: Transformer, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """The metadata block: the keys FORMAT.md lists, then anything else the caller adds.
    `metadata` supplies language, training_tokens and metrics (and may override preset
    or created); format and parameters always describe the file itself."""
    given = dict(metadata or {})
    meta: dict[str, Any] = {
        "format": METADATA_FORMAT,
        "language": given.pop("language", None) or "unknown",
        "preset": given.pop("preset", None) or _preset_name(model.config),
        "parameters": model.num_parameters(),
        "training_tokens": int(given.pop("training_tokens", None) or 0),
        "metrics": given.pop("metrics", None) or {},
        "created": given.pop("created", None)
        or datetime.datetime.now(datetime.UTC).date().isoformat(),
    }
    for key in ("format", "parameters"):
        given.pop(key, None)
    if not isinstance(meta["metrics"], dict):
        raise ExportError(f"metrics must be an object, got {type(meta['metrics']).__name__}")
    meta.update(given)
    return meta


def export_ttc(
    model: nn.Module,
    path: str | PathLike[str],
    metadata: dict[str, Any],
    group_size: int = 32,
    memory_blend: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Write `model` as a ttc file (engine_c/FORMAT.md); returns the header as a dict.
    memory_blend: the document memory's fitted parameters (None: the engine's defaults)."""
    model = _as_transformer(model)
    cfg = model.config
    check_exportable(cfg, group_size)
    _check_finite(model)
    meta = build_metadata(model, metadata)
    try:
        meta_bytes = json.dumps(meta, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise ExportError(f"metadata is not JSON-serialisable: {e}") from e

    weights = bytearray()
    for kind, tensor in _ttc_tensors(model):
        if kind == "f32":
            weights += tensor.detach().cpu().float().numpy().astype("<f4").tobytes()
            weights += bytes(_pad(len(weights)))
        else:
            q, scales = quantize_q8(tensor, group_size)
            weights += q.tobytes()
            weights += bytes(_pad(len(weights)))
            weights += scales.astype("<f4").tobytes()
            weights += bytes(_pad(len(weights)))

    assert len(weights) == ttc_weights_size(cfg, group_size)
    metadata_offset = HEADER_SIZE
    weights_offset = metadata_offset + _padded(len(meta_bytes))
    file_size = weights_offset + len(weights)
    fields = {
        "magic": MAGIC,
        "version": VERSION,
        "header_size": HEADER_SIZE,
        "flags": (FLAG_TIED if cfg.tied_embeddings else 0)
        | (FLAG_MEMORY_BLEND if memory_blend is not None else 0),
        "dim": cfg.dim,
        "hidden_dim": cfg.hidden_dim,
        "n_layers": cfg.n_layers,
        "n_heads": cfg.n_heads,
        "n_kv_heads": cfg.kv_heads,
        "vocab_size": cfg.vocab_size,
        "window": cfg.window,
        "group_size": group_size,
        "rope_theta": cfg.rope_theta,
        "norm_eps": cfg.norm_eps,
        "metadata_offset": metadata_offset,
        "metadata_size": len(meta_bytes),
        "weights_offset": weights_offset,
        "weights_size": len(weights),
        "file_size": file_size,
        "checksum": 0,
        **_blend_fields(memory_blend),
    }
    data = bytearray(_HEADER.pack(*(fields[name] for name in _HEADER_FIELDS)))
    data += meta_bytes + bytes(_pad(len(meta_bytes)))
    data += weights
    assert len(data) == file_size
    checksum = compute_checksum(data)
    struct.pack_into("<I", data, CHECKSUM_OFFSET, checksum)
    _write_atomically(path, data)
    return read_header(bytes(data[:HEADER_SIZE]))


def _blend_fields(memory_blend: Sequence[float] | None) -> dict[str, float]:
    values = [0.0] * MEMORY_BLEND_PARAMS if memory_blend is None else list(memory_blend)
    if len(values) != MEMORY_BLEND_PARAMS or not all(
        math.isfinite(v) and -100 <= v <= 100 for v in values
    ):
        raise ExportError(
            f"memory_blend must be {MEMORY_BLEND_PARAMS} finite numbers in [-100, 100], "
            f"got {memory_blend!r}"
        )
    return {f"memory_blend_{i}": float(v) for i, v in enumerate(values)}


def set_memory_blend(path: str | PathLike[str], memory_blend: Sequence[float]) -> None:
    """Store fitted document-memory parameters in an existing ttc file (header only)."""
    data = bytearray(Path(path).read_bytes())
    header = read_header(bytes(data))
    header["flags"] |= FLAG_MEMORY_BLEND
    header["magic"] = MAGIC
    header.update(_blend_fields(memory_blend))
    header.pop("memory_blend")
    _HEADER.pack_into(data, 0, *(header[name] for name in _HEADER_FIELDS))
    struct.pack_into("<I", data, CHECKSUM_OFFSET, compute_checksum(data))
    _write_atomically(path, data)


def compute_checksum(data: bytes | bytearray | memoryview) -> int:
    """CRC-32 (zlib) of a whole ttc file, with the checksum field read as 0."""
    view = memoryview(data)
    crc = zlib.crc32(view[:CHECKSUM_OFFSET])
    crc = zlib.crc32(b"\0\0\0\0", crc)
    return zlib.crc32(view[CHECKSUM_OFFSET + 4 :], crc)


def verify_checksum(path_or_bytes: str | PathLike[str] | bytes) -> bool:
    """True when the stored checksum matches the file's contents."""
    data = _read_all(path_or_bytes)
    if len(data) < HEADER_SIZE:
        return False
    (stored,) = struct.unpack_from("<I", data, CHECKSUM_OFFSET)
    return bool(stored == compute_checksum(data))


def _read_all(path_or_bytes: str | PathLike[str] | bytes | bytearray) -> bytes:
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return bytes(path_or_bytes)
    return Path(path_or_bytes).read_bytes()


def _read_prefix(path_or_bytes: str | PathLike[str] | bytes, n: int) -> bytes:
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return bytes(path_or_bytes[:n])
    with open(path_or_bytes, "rb") as f:
        return f.read(n)


def read_header(path_or_bytes: str | PathLike[str] | bytes) -> dict[str, Any]:
    """The header of a ttc file as a dict (FORMAT.md's field names); raises FormatError
    when it is not a ttc header. Checks the magic, version and header size only."""
    raw = _read_prefix(path_or_bytes, HEADER_SIZE)
    if len(raw) < HEADER_SIZE:
        raise FormatError(f"file too short for a ttc header ({len(raw)} < {HEADER_SIZE} bytes)")
    header = dict(zip(_HEADER_FIELDS, _HEADER.unpack(raw), strict=True))
    if header["magic"] != MAGIC:
        raise FormatError(f"not a ttc model file (magic {header['magic']!r}, expected {MAGIC!r})")
    if header["version"] != VERSION:
        raise FormatError(
            f"unsupported ttc format version {header['version']} "
            f"(this exporter knows version {VERSION})"
        )
    if header["header_size"] != HEADER_SIZE:
        raise FormatError(f"bad header_size {header['header_size']}")
    header["magic"] = MAGIC.decode("ascii")
    blend = [header.pop(f"memory_blend_{i}") for i in range(MEMORY_BLEND_PARAMS)]
    header["memory_blend"] = blend if header["flags"] & FLAG_MEMORY_BLEND else None
    return header


def read_metadata(path_or_bytes: str | PathLike[str] | bytes) -> dict[str, Any]:
    """The metadata JSON object of a ttc file."""
    header = read_header(path_or_bytes)
    start, size = header["metadata_offset"], header["metadata_size"]
    if start < HEADER_SIZE or start + size > header["weights_offset"]:
        raise FormatError("metadata block lies outside the header/weights bounds")
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        raw = bytes(path_or_bytes[start : start + size])
    else:
        with open(path_or_bytes, "rb") as f:
            f.seek(start)
            raw = f.read(size)
    if len(raw) != size:
        raise FormatError("file ends inside the metadata block")
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FormatError(f"metadata is not UTF-8 JSON: {e}") from e
    if not isinstance(meta, dict):
        raise FormatError("metadata is not a JSON object")
    return meta


def load_ttc(path_or_bytes: str | PathLike[str] | bytes) -> tuple[Transformer, dict[str, Any]]:
    """The model in a ttc file as a PyTorch Transformer (its int8 weights dequantised:
    the weights the engine runs) and the file's header. A ttc file is all a user has of
    a shipped model, so starting from one (training.adapt) begins here."""
    data = _read_all(path_or_bytes)
    header = read_header(data)
    if len(data) != header["file_size"] or not verify_checksum(data):
        raise FormatError("the file is damaged (its size or checksum does not match)")
    config = ModelConfig(
        dim=header["dim"], n_layers=header["n_layers"], n_heads=header["n_heads"],
        n_kv_heads=header["n_kv_heads"], hidden_dim=header["hidden_dim"],
        vocab_size=header["vocab_size"], window=header["window"],
        # the shortest decimal that the stored float32 stands for: 1e-05, not 9.99e-06...
        rope_theta=float(str(np.float32(header["rope_theta"]))),
        norm_eps=float(str(np.float32(header["norm_eps"]))),
        tied_embeddings=bool(header["flags"] & FLAG_TIED),
    )
    model = Transformer(config)
    group = header["group_size"]
    offset = header["weights_offset"]
    with torch.no_grad():
        for kind, tensor in _ttc_tensors(model):
            count = tensor.numel()
            if kind == "f32":
                values = np.frombuffer(data, "<f4", count, offset)
                offset += _padded(4 * count)
            else:
                q = np.frombuffer(data, np.int8, count, offset)
                offset += _padded(count)
                scales = np.frombuffer(data, "<f4", count // group, offset)
                offset += _padded(4 * (count // group))
                values = dequantize_q8(q, scales, group)
            tensor.copy_(torch.from_numpy(values.reshape(tensor.shape).copy()))
    return model, header


def ttc_weights_size(cfg: ModelConfig, group_size: int = 32) -> int:
    """Bytes of the weights section that the dimensions imply (FORMAT.md)."""
    q_dim, kv_dim = cfg.n_heads * cfg.head_dim, cfg.kv_heads * cfg.head_dim

    def q8(rows: int, cols: int) -> int:
        return _padded(rows * cols) + _padded(4 * (rows * cols // group_size))

    per_layer = (
        2 * _padded(4 * cfg.dim)
        + q8(q_dim, cfg.dim)
        + 2 * q8(kv_dim, cfg.dim)
        + q8(cfg.dim, q_dim)
        + 2 * q8(cfg.hidden_dim, cfg.dim)
        + q8(cfg.dim, cfg.hidden_dim)
    )
    size = q8(cfg.vocab_size, cfg.dim) + cfg.n_layers * per_layer + _padded(4 * cfg.dim)
    if not cfg.tied_embeddings:
        size += q8(cfg.vocab_size, cfg.dim)
    return size


def dequantized_copy(model: nn.Module, group_size: int = 32) -> Transformer:
    """A deep copy of `model` whose weight matrices (embedding, the 7 per-layer matrices,
    classifier) are replaced by their int8 round trip: the weights the engine runs."""
    clone = copy.deepcopy(_as_transformer(model))
    with torch.no_grad():
        for weight in _matrices(clone):
            q, scales = quantize_q8(weight, group_size)
            restored = torch.from_numpy(dequantize_q8(q, scales, group_size))
            weight.copy_(restored.to(weight.dtype))
    return clone


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_atomically(path: str | PathLike[str], data: bytes | bytearray) -> None:
    """Write to a temporary file next to `path`, then rename: no half-written models."""
    target = Path(path)
    if target.is_dir():
        raise ExportError(f"{target} is a directory")
    if not target.parent.is_dir():
        raise ExportError(f"directory {target.parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; models are not
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------
# llama2.c


def export_llama2c(model: nn.Module, path: str | PathLike[str], group_size: int = 32) -> None:
    """Write llama2.c's int8 "version 2" checkpoint (the format `runq.c` reads).

    llama2.c hard-codes RoPE base 10000 and RMSNorm epsilon 1e-5, and its tokenizer is
    not ours: the weights run there, the text needs our character mapping."""
    model = _as_transformer(model)
    cfg = model.config
    check_exportable(cfg, group_size)
    _check_finite(model)
    if cfg.rope_theta != 10000.0 or cfg.norm_eps != 1e-5:
        warnings.warn(
            "llama2.c assumes rope_theta=10000 and norm_eps=1e-5; this model "
            f"uses {cfg.rope_theta} and {cfg.norm_eps}",
            stacklevel=2,
        )
    header = _LLAMA2C_HEADER.pack(
        LLAMA2C_MAGIC,
        LLAMA2C_VERSION,
        cfg.dim,
        cfg.hidden_dim,
        cfg.n_layers,
        cfg.n_heads,
        cfg.kv_heads,
        cfg.vocab_size,
        cfg.window,
        int(cfg.tied_embeddings),
        group_size,
    )
    data = bytearray(header + bytes(LLAMA2C_HEADER_SIZE - len(header)))

    def f32(tensor: torch.Tensor) -> None:
        data.extend(tensor.detach().cpu().float().numpy().astype("<f4").tobytes())

    def q8(tensor: torch.Tensor) -> None:
        q, scales = quantize_q8(tensor, group_size)
        data.extend(q.tobytes())
        data.extend(scales.astype("<f4").tobytes())

    layers = model.blocks
    for layer in layers:
        f32(layer.attention_norm.weight)
    for layer in layers:
        f32(layer.ffn_norm.weight)
    f32(model.norm.weight)
    q8(model.tok_embeddings.weight)
    for name in ("wq", "wk", "wv", "wo"):  # each over all layers
        for layer in layers:
            q8(getattr(layer.attention, name).weight)
    for name in ("w1", "w2", "w3"):
        for layer in layers:
            q8(getattr(layer.feed_forward, name).weight)
    if not cfg.tied_embeddings:
        q8(model.output.weight)
    _write_atomically(path, data)


# ---------------------------------------------------------------------------------------
# Command line


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m training.export",
        description="Export a model to the ttc engine format (or llama2.c's int8 format), "
        "or show the header and metadata of a .ttc file.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", metavar="PATH", help="a checkpoint saved by training")
    source.add_argument(
        "--random", action="store_true", help="a randomly initialised model (needs --preset)"
    )
    source.add_argument(
        "--show", metavar="FILE", help="print the header and metadata of a .ttc file as JSON"
    )
    parser.add_argument("--preset", choices=sorted(PRESETS), help="model size for --random")
    parser.add_argument(
        "--seed", type=int, default=None, help="torch.manual_seed for --random (default 0)"
    )
    parser.add_argument("--out", metavar="PATH", help="file to write")
    parser.add_argument(
        "--llama2c",
        action="store_true",
        help="write llama2.c's int8 'version 2' checkpoint instead",
    )
    parser.add_argument("--language", help="language recorded in the metadata")
    parser.add_argument(
        "--training-tokens", type=int, default=None, help="training tokens recorded in the metadata"
    )
    parser.add_argument(
        "--metrics",
        metavar="JSON",
        default=None,
        help="metrics object recorded in the metadata, as JSON",
    )
    parser.add_argument(
        "--group-size", type=int, default=32, help="quantisation group size (default 32)"
    )
    args = parser.parse_args(argv)
    if args.show is not None:
        extra = [
            flag
            for flag, value in (
                ("--out", args.out),
                ("--preset", args.preset),
                ("--seed", args.seed),
            )
            if value is not None
        ]
        if extra or args.llama2c:
            parser.error(f"--show takes no other options (got {', '.join(extra) or '--llama2c'})")
        return args
    if args.out is None:
        parser.error("--out is required")
    if args.random and args.preset is None:
        parser.error("--random needs --preset (one of: " + ", ".join(sorted(PRESETS)) + ")")
    if not args.random and (args.preset is not None or args.seed is not None):
        parser.error("--preset and --seed only apply to --random")
    if args.metrics is not None:
        try:
            args.metrics = json.loads(args.metrics)
        except json.JSONDecodeError as e:
            parser.error(f"--metrics is not valid JSON: {e}")
        if not isinstance(args.metrics, dict):
            parser.error("--metrics must be a JSON object")
    return args


def _show(path: str) -> None:
    header = read_header(path)
    meta = read_metadata(path)
    actual_size = os.path.getsize(path)
    report = {
        "file": path,
        "header": header,
        "checksum_ok": verify_checksum(path),
        "size_ok": actual_size == header["file_size"],
        "metadata": meta,
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        if args.show is not None:
            _show(args.show)
            return 0
        extra: dict[str, Any] = {}
        if args.random:
            torch.manual_seed(0 if args.seed is None else args.seed)
            model = Transformer(PRESETS[args.preset])
            extra = {"preset": args.preset}
        else:
            model, extra = load_checkpoint(args.checkpoint)
        model.eval()
        if args.llama2c:
            export_llama2c(model, args.out, group_size=args.group_size)
            print(f"wrote {args.out} (llama2.c int8 v2, {os.path.getsize(args.out)} bytes)")
            return 0
        metadata = {
            "language": args.language or extra.get("language"),
            "preset": extra.get("preset"),
            "training_tokens": (
                args.training_tokens
                if args.training_tokens is not None
                else extra.get("training_tokens")
                # training.train's checkpoints count their own tokens and their base's
                or int(extra.get("tokens", 0)) + int(extra.get("base_tokens", 0))
            ),
            "metrics": args.metrics if args.metrics is not None else extra.get("metrics"),
        }
        header = export_ttc(model, args.out, metadata, group_size=args.group_size)
        print(
            f"wrote {args.out} ({header['file_size']} bytes, {model.num_parameters()} parameters)"
        )
        return 0
    except FileNotFoundError as e:
        print(f"error: no such file: {e.filename or e}", file=sys.stderr)
    except IsADirectoryError as e:
        print(f"error: {e.filename or e} is a directory", file=sys.stderr)
    except (ExportError, FormatError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
