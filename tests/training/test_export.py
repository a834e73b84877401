"""The exporter (training/export.py) against engine_c/FORMAT.md.

The expected layout is computed here from FORMAT.md's table, independently of the
exporter's own code."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from training.export import (
    ExportError,
    FormatError,
    dequantized_copy,
    export_llama2c,
    export_ttc,
    load_ttc,
    main,
    quantize_q8,
    read_header,
    read_metadata,
    verify_checksum,
)
from training.model import PRESETS, ModelConfig, Transformer, save_checkpoint

REPO = Path(__file__).resolve().parents[2]
TINY = PRESETS["tiny"]
META = {"language": "python", "training_tokens": 123456, "metrics": {"bpc": 1.25}}


def pad64(n: int) -> int:
    return (n + 63) // 64 * 64


def make_model(seed: int = 0, **changes: Any) -> Transformer:
    """A tiny model with random norm weights (so that their order in the file shows)."""
    torch.manual_seed(seed)
    model = Transformer(dataclasses.replace(TINY, **changes))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
    return model.eval()


def ttc_tensors(cfg: ModelConfig) -> list[tuple[str, str, tuple[int, ...]]]:
    """(name, kind, shape) in file order, from FORMAT.md's table."""
    head_dim = cfg.dim // cfg.n_heads
    kv_heads = cfg.n_kv_heads or cfg.n_heads
    q_dim, kv_dim = cfg.n_heads * head_dim, kv_heads * head_dim
    d, h, v = cfg.dim, cfg.hidden_dim, cfg.vocab_size
    out: list[tuple[str, str, tuple[int, ...]]] = [("token_embedding", "q8", (v, d))]
    for i in range(cfg.n_layers):
        out += [
            (f"{i}.attention_norm", "f32", (d,)),
            (f"{i}.wq", "q8", (q_dim, d)),
            (f"{i}.wk", "q8", (kv_dim, d)),
            (f"{i}.wv", "q8", (kv_dim, d)),
            (f"{i}.wo", "q8", (d, q_dim)),
            (f"{i}.ffn_norm", "f32", (d,)),
            (f"{i}.w1", "q8", (h, d)),
            (f"{i}.w2", "q8", (d, h)),
            (f"{i}.w3", "q8", (h, d)),
        ]
    out.append(("final_norm", "f32", (d,)))
    if not cfg.tied_embeddings:
        out.append(("classifier", "q8", (v, d)))
    return out


def tensor_size(kind: str, shape: tuple[int, ...], group_size: int) -> int:
    n = int(np.prod(shape))
    if kind == "f32":
        return pad64(4 * n)
    return pad64(n) + pad64(4 * (n // group_size))


def expected_weights_size(cfg: ModelConfig, group_size: int) -> int:
    return sum(tensor_size(k, s, group_size) for _, k, s in ttc_tensors(cfg))


def model_tensor(model: Transformer, name: str) -> torch.Tensor:
    if name == "token_embedding":
        return model.tok_embeddings.weight
    if name == "final_norm":
        return model.norm.weight
    if name == "classifier":
        return model.output.weight
    index, part = name.split(".")
    layer = model.blocks[int(index)]
    owner = {
        "attention_norm": layer,
        "ffn_norm": layer,
        "wq": layer.attention,
        "wk": layer.attention,
        "wv": layer.attention,
        "wo": layer.attention,
        "w1": layer.feed_forward,
        "w2": layer.feed_forward,
        "w3": layer.feed_forward,
    }
    return getattr(owner[part], part).weight


def parse_tensors(
    data: bytes, cfg: ModelConfig, group_size: int, weights_offset: int
) -> dict[str, np.ndarray]:
    """Read every tensor back (q8 as float32 weights), checking the padding is zero."""
    out: dict[str, np.ndarray] = {}
    pos = weights_offset
    for name, kind, shape in ttc_tensors(cfg):
        n = int(np.prod(shape))
        assert pos % 64 == 0
        if kind == "f32":
            out[name] = np.frombuffer(data, "<f4", n, pos).reshape(shape)
            assert not any(data[pos + 4 * n : pos + pad64(4 * n)])
            pos += pad64(4 * n)
        else:
            q = np.frombuffer(data, np.int8, n, pos).reshape(shape)
            assert not any(data[pos + n : pos + pad64(n)])
            pos += pad64(n)
            n_scales = n // group_size
            scales = np.frombuffer(data, "<f4", n_scales, pos)
            assert not any(data[pos + 4 * n_scales : pos + pad64(4 * n_scales)])
            pos += pad64(4 * n_scales)
            assert q.min() >= -127
            assert np.all(np.isfinite(scales)) and np.all(scales >= 0)
            groups = q.reshape(-1, group_size).astype(np.float32) * scales[:, None]
            out[name] = groups.reshape(shape)
    assert pos == len(data)
    return out


@pytest.fixture(
    scope="module",
    params=[{}, {"tied_embeddings": False, "n_kv_heads": None}],
    ids=["tied-gqa", "untied-mha"],
)
def exported(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Transformer, Path]:
    model = make_model(**request.param)
    path = tmp_path_factory.mktemp("export") / "tiny.ttc"
    export_ttc(model, path, META)
    return model, path


def test_header_fields_match_the_config(exported: tuple[Transformer, Path]) -> None:
    model, path = exported
    cfg = model.config
    raw = path.read_bytes()[:128]
    assert raw[:4] == b"TTCM"
    fields = struct.unpack_from("<11I", raw, 4)
    assert fields == (
        1,
        128,
        1 if cfg.tied_embeddings else 0,
        cfg.dim,
        cfg.hidden_dim,
        cfg.n_layers,
        cfg.n_heads,
        cfg.n_kv_heads or cfg.n_heads,
        128,
        cfg.window,
        32,
    )
    theta, eps = struct.unpack_from("<2f", raw, 48)
    assert theta == np.float32(cfg.rope_theta) and eps == np.float32(cfg.norm_eps)
    assert raw[100:128] == bytes(28)

    header = read_header(path)
    assert header["magic"] == "TTCM"
    assert header["flags"] == (1 if cfg.tied_embeddings else 0)
    assert header["n_kv_heads"] == (cfg.n_kv_heads or cfg.n_heads)
    assert header["group_size"] == 32
    assert header["norm_eps"] == pytest.approx(cfg.norm_eps)
    assert read_header(path.read_bytes()) == header


def test_sizes_and_offsets_follow_from_the_dimensions(exported: tuple[Transformer, Path]) -> None:
    model, path = exported
    data = path.read_bytes()
    metadata_offset, metadata_size, weights_offset, weights_size, file_size = struct.unpack_from(
        "<5Q", data, 56
    )
    assert metadata_offset == 128
    assert weights_offset == 128 + pad64(metadata_size)
    assert weights_size == expected_weights_size(model.config, 32)
    assert file_size == weights_offset + weights_size == len(data)
    assert not any(data[128 + metadata_size : weights_offset])


def test_tensors_are_the_quantised_weights_in_file_order(
    exported: tuple[Transformer, Path],
) -> None:
    model, path = exported
    header = read_header(path)
    tensors = parse_tensors(path.read_bytes(), model.config, 32, header["weights_offset"])
    engine_weights = dequantized_copy(model)
    for name, kind, _ in ttc_tensors(model.config):
        if kind == "f32":
            expected = model_tensor(model, name).detach().numpy()
            np.testing.assert_array_equal(tensors[name], expected, err_msg=name)
        else:
            expected = model_tensor(engine_weights, name).detach().numpy()
            np.testing.assert_array_equal(tensors[name], expected, err_msg=name)
            original = model_tensor(model, name).detach().numpy()
            np.testing.assert_allclose(tensors[name], original, atol=0.01, err_msg=name)


def test_checksum_covers_the_whole_file(exported: tuple[Transformer, Path]) -> None:
    _, path = exported
    data = bytearray(path.read_bytes())
    stored = struct.unpack_from("<I", data, 96)[0]
    zeroed = data[:96] + bytes(4) + data[100:]
    assert stored == zlib.crc32(zeroed)
    assert verify_checksum(path)
    assert verify_checksum(bytes(data))
    for offset in (20, 130, header_weights := read_header(path)["weights_offset"], len(data) - 1):
        flipped = bytearray(data)
        flipped[offset] ^= 0x01
        assert not verify_checksum(bytes(flipped)), offset
    assert header_weights % 64 == 0


def test_metadata(exported: tuple[Transformer, Path]) -> None:
    model, path = exported
    meta = read_metadata(path)
    assert meta == read_metadata(path.read_bytes())
    assert set(meta) >= {
        "format",
        "language",
        "preset",
        "parameters",
        "training_tokens",
        "metrics",
        "created",
    }
    assert meta["format"] == "ttc-1"
    assert meta["language"] == "python"
    assert meta["training_tokens"] == 123456
    assert meta["metrics"] == {"bpc": 1.25}
    assert meta["parameters"] == model.num_parameters()
    assert meta["preset"] == ("tiny" if model.config == TINY else "custom")
    datetime.date.fromisoformat(meta["created"])
    # Readable without the exporter: plain UTF-8 JSON at metadata_offset.
    data = path.read_bytes()
    _, size = struct.unpack_from("<2Q", data, 56)
    assert json.loads(data[128 : 128 + size].decode("utf-8")) == meta


def test_show_prints_header_and_metadata(
    exported: tuple[Transformer, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, path = exported
    assert main(["--show", str(path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["header"] == read_header(path)
    assert shown["metadata"] == read_metadata(path)
    assert shown["checksum_ok"] is True


def test_metadata_extras_and_non_ascii(tmp_path: Path) -> None:
    model = make_model()
    path = tmp_path / "m.ttc"
    export_ttc(model, path, {"language": "café", "created": "2024-01-02", "notes": "x" * 70})
    meta = read_metadata(path)
    assert meta["language"] == "café"
    assert meta["created"] == "2024-01-02"
    assert meta["notes"] == "x" * 70
    assert meta["training_tokens"] == 0 and meta["metrics"] == {}
    assert read_header(path)["weights_offset"] % 64 == 0
    assert verify_checksum(path)


def test_quantisation_rounds_half_to_even_and_zero_groups() -> None:
    row = np.zeros(64, dtype=np.float32)
    row[:6] = [127.0, 0.5, 1.5, 2.5, -0.5, -2.5]  # scale 1 exactly
    q, scales = quantize_q8(torch.from_numpy(row[None, :]), 32)
    assert q.dtype == np.int8 and scales.dtype == np.float32
    assert q.shape == (1, 64) and scales.shape == (1, 2)
    assert q[0, :6].tolist() == [127, 0, 2, 2, 0, -2]
    assert scales.tolist() == [[1.0, 0.0]]  # the second group is all zero
    assert not q[0, 32:].any()


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 4), st.sampled_from([32, 64, 96])),
        elements=st.floats(-1e3, 1e3, width=32),
    ),
    st.sampled_from([32]),
)
def test_quantisation_error_is_at_most_half_a_step(w: np.ndarray, group_size: int) -> None:
    q, scales = quantize_q8(w, group_size)
    assert q.min() >= -127 and q.max() <= 127
    groups = w.astype(np.float64).reshape(-1, group_size)
    np.testing.assert_array_equal(
        scales.reshape(-1), (np.abs(groups).max(axis=1) / 127).astype(np.float32)
    )
    step = scales.reshape(-1, 1).astype(np.float64)
    error = np.abs(groups - q.reshape(-1, group_size) * step)
    assert np.all(error <= step / 2 * (1 + 1e-9) + 1e-30)
    # Symmetric: -w quantises to -q.
    q_neg, scales_neg = quantize_q8(-w, group_size)
    np.testing.assert_array_equal(q_neg, -q)
    np.testing.assert_array_equal(scales_neg, scales)


def test_quantisation_rejects_bad_input() -> None:
    with pytest.raises(ExportError, match="divisible"):
        quantize_q8(np.zeros((2, 48), np.float32), 32)
    with pytest.raises(ExportError, match="NaN"):
        quantize_q8(np.full((1, 32), np.nan, np.float32), 32)


def test_dequantized_copy_changes_logits_only_slightly() -> None:
    model = make_model()
    with torch.no_grad():  # larger weights than the init, so the logits are not tiny
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(5.0)
    copy = dequantized_copy(model)
    assert copy is not model
    assert not torch.equal(copy.blocks[0].attention.wq.weight, model.blocks[0].attention.wq.weight)
    assert torch.equal(copy.blocks[0].ffn_norm.weight, model.blocks[0].ffn_norm.weight)
    assert copy.output.weight is copy.tok_embeddings.weight
    tokens = torch.randint(1, 128, (2, 64), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = model(tokens)[0], copy(tokens)[0]
    assert 0 < (a - b).abs().max().item() < 0.02 * a.abs().max().item()


def test_dequantized_copy_is_idempotent() -> None:
    once = dequantized_copy(make_model(tied_embeddings=False))
    twice = dequantized_copy(once)
    for a, b in zip(once.parameters(), twice.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=0)


def test_export_refuses_dimensions_the_format_rejects(tmp_path: Path) -> None:
    model = make_model()
    with pytest.raises(ExportError, match="group size must be a multiple of 32"):
        export_ttc(model, tmp_path / "a.ttc", {}, group_size=48)
    with pytest.raises(ExportError, match=r"dim \(64\) is not divisible by the group size"):
        export_ttc(model, tmp_path / "a.ttc", {}, group_size=128)
    with pytest.raises(ExportError, match="window"):
        export_ttc(make_model(window=8), tmp_path / "a.ttc", {})
    with torch.no_grad():
        model.blocks[1].feed_forward.w2.weight[0, 0] = float("nan")
    with pytest.raises(ExportError, match="NaN"):
        export_ttc(model, tmp_path / "a.ttc", {})
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_read_header_rejects_other_files(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="too short"):
        read_header(b"TTCM")
    with pytest.raises(FormatError, match="not a ttc model file"):
        read_header(bytes(128))
    path = tmp_path / "m.ttc"
    export_ttc(make_model(), path, {})
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 4, 2)
    with pytest.raises(FormatError, match="version 2"):
        read_header(bytes(data))


def test_seed_preset_export(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Transformer(PRESETS["seed"])
    path = tmp_path / "seed.ttc"
    header = export_ttc(model, path, {"language": "python"})
    size = path.stat().st_size
    assert header["file_size"] == size
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600
    assert header["weights_size"] == expected_weights_size(PRESETS["seed"], 32) == 6_774_912
    assert (header["dim"], header["n_layers"], header["n_heads"]) == (288, 6, 6)
    assert read_metadata(path)["preset"] == "seed"
    assert verify_checksum(path)


def llama2c_size(cfg: ModelConfig, group_size: int) -> int:
    head_dim = cfg.dim // cfg.n_heads
    kv_dim = (cfg.n_kv_heads or cfg.n_heads) * head_dim
    q_dim = cfg.n_heads * head_dim
    d, h, v, n_layers = cfg.dim, cfg.hidden_dim, cfg.vocab_size, cfg.n_layers

    def q8(n: int) -> int:
        return n + 4 * (n // group_size)

    size = 256 + 4 * (2 * n_layers * d + d) + q8(v * d)
    size += n_layers * (q8(q_dim * d) + 2 * q8(kv_dim * d) + q8(d * q_dim) + 3 * q8(h * d))
    if not cfg.tied_embeddings:
        size += q8(v * d)
    return size


@pytest.mark.parametrize("changes", [{}, {"tied_embeddings": False}])
def test_llama2c_export(tmp_path: Path, changes: dict[str, Any]) -> None:
    model = make_model(**changes)
    cfg = model.config
    path = tmp_path / "model.bin"
    export_llama2c(model, path)
    data = path.read_bytes()
    magic, version = struct.unpack_from("<Ii", data, 0)
    assert (magic, version) == (0x616B3432, 2)
    assert data[:4] == b"24ka"  # 0x616b3432, little-endian
    dims = struct.unpack_from("<7i", data, 8)
    assert dims == (
        cfg.dim,
        cfg.hidden_dim,
        cfg.n_layers,
        cfg.n_heads,
        cfg.n_kv_heads or cfg.n_heads,
        128,
        cfg.window,
    )
    shared, group_size = struct.unpack_from("<Bi", data, 36)
    assert shared == int(cfg.tied_embeddings) and group_size == 32
    assert data[41:256] == bytes(215)
    assert len(data) == llama2c_size(cfg, 32)
    # The norms come first: attention norms of all layers, ffn norms, final norm.
    norms = np.frombuffer(data, "<f4", 2 * cfg.n_layers * cfg.dim + cfg.dim, 256)
    expected = torch.cat(
        [
            *(b.attention_norm.weight for b in model.blocks),
            *(b.ffn_norm.weight for b in model.blocks),
            model.norm.weight,
        ]
    )
    np.testing.assert_array_equal(norms, expected.detach().numpy())
    # Then the token embedding as int8 values followed by its scales.
    start = 256 + 4 * norms.size
    q, scales = quantize_q8(model.tok_embeddings.weight, 32)
    n = q.size
    assert data[start : start + n] == q.tobytes()
    assert data[start + n : start + n + 4 * n // 32] == scales.astype("<f4").tobytes()
    # And the first layer's wq right after it.
    q, _ = quantize_q8(model.blocks[0].attention.wq.weight, 32)
    start += n + 4 * n // 32
    assert data[start : start + q.size] == q.tobytes()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "training.export", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_random_tiny(tmp_path: Path) -> None:
    out = tmp_path / "tiny.ttc"
    result = run_cli("--random", "--preset", "tiny", "--out", str(out), "--language", "javascript")
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout
    header = read_header(out)
    assert (header["dim"], header["n_layers"], header["n_kv_heads"]) == (64, 2, 2)
    assert verify_checksum(out)
    meta = read_metadata(out)
    assert meta["language"] == "javascript" and meta["preset"] == "tiny"
    # The same seed gives the same weights; another seed does not.
    again, other = tmp_path / "again.ttc", tmp_path / "other.ttc"
    assert main(["--random", "--preset", "tiny", "--seed", "0", "--out", str(again)]) == 0
    assert main(["--random", "--preset", "tiny", "--seed", "1", "--out", str(other)]) == 0
    offset = header["weights_offset"]
    assert again.read_bytes()[offset:] == out.read_bytes()[offset:]
    assert other.read_bytes()[offset:] != out.read_bytes()[offset:]


def test_cli_exports_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = make_model(tied_embeddings=False)
    ckpt = tmp_path / "ckpt.pt"
    save_checkpoint(
        ckpt, model, language="go", training_tokens=999, metrics={"val_bpc": 2.0}, step=5
    )
    out = tmp_path / "go.ttc"
    assert main(["--checkpoint", str(ckpt), "--out", str(out)]) == 0
    meta = read_metadata(out)
    assert (meta["language"], meta["training_tokens"], meta["metrics"]) == (
        "go",
        999,
        {"val_bpc": 2.0},
    )
    direct = tmp_path / "direct.ttc"
    export_ttc(model, direct, {})
    offset = read_header(out)["weights_offset"]
    assert out.read_bytes()[offset:] == direct.read_bytes()[read_header(direct)["weights_offset"] :]
    # --llama2c from the same checkpoint.
    bin_path = tmp_path / "go.bin"
    assert main(["--checkpoint", str(ckpt), "--llama2c", "--out", str(bin_path)]) == 0
    assert bin_path.stat().st_size == llama2c_size(model.config, 32)
    capsys.readouterr()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--checkpoint", "{tmp}/missing.pt", "--out", "{tmp}/x.ttc"], "no such file"),
        (["--checkpoint", "{tmp}/garbage.pt", "--out", "{tmp}/x.ttc"], "not a readable"),
        (
            ["--random", "--preset", "tiny", "--group-size", "48", "--out", "{tmp}/x.ttc"],
            "group size must be a multiple of 32",
        ),
        (
            ["--random", "--preset", "tiny", "--group-size", "128", "--out", "{tmp}/x.ttc"],
            "dim (64) is not divisible",
        ),
        (["--random", "--preset", "tiny", "--out", "{tmp}/no/such/dir/x.ttc"], "does not exist"),
        (["--show", "{tmp}/garbage.pt"], "not a ttc model file"),
        (["--show", "{tmp}/missing.ttc"], "no such file"),
    ],
)
def test_cli_user_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint at all, not even close" * 4)
    assert main([a.format(tmp=tmp_path) for a in args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert not (tmp_path / "x.ttc").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--random", "--preset", "tiny"], "--out is required"),
        (["--random", "--out", "x.ttc"], "--random needs --preset"),
        (["--random", "--preset", "huge", "--out", "x.ttc"], "invalid choice"),
        (["--out", "x.ttc"], "one of the arguments"),
        (["--checkpoint", "c.pt", "--preset", "tiny", "--out", "x.ttc"], "only apply to --random"),
        (["--random", "--preset", "tiny", "--metrics", "{", "--out", "x.ttc"], "not valid JSON"),
        (["--show", "a.ttc", "--out", "x.ttc"], "--show takes no other options"),
    ],
)
def test_cli_bad_arguments(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_errors_print_no_traceback(tmp_path: Path) -> None:
    result = run_cli("--checkpoint", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "x.ttc"))
    assert result.returncode != 0
    assert "error: no such file" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("tied", [True, False])
def test_a_ttc_file_reads_back_as_the_model_the_engine_runs(tmp_path: Path, tied: bool) -> None:
    model = make_model(tied_embeddings=tied)
    path = tmp_path / "model.ttc"
    export_ttc(model, path, META, memory_blend=[-3.0, 1.5, 0.5, -2.0, 2.0])
    loaded, header = load_ttc(path)
    assert loaded.config == model.config
    expected = dequantized_copy(model).state_dict()
    for name, value in loaded.state_dict().items():
        assert torch.equal(value, expected[name]), name
    # Exported again, the weights are the same bytes: int8 survives the round trip.
    again = tmp_path / "again.ttc"
    export_ttc(loaded, again, META, memory_blend=header["memory_blend"])
    start = header["weights_offset"]
    assert again.read_bytes()[start:] == path.read_bytes()[start:]


def test_a_damaged_ttc_file_does_not_read_back(tmp_path: Path) -> None:
    path = tmp_path / "model.ttc"
    export_ttc(make_model(), path, META)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    with pytest.raises(FormatError, match="damaged"):
        load_ttc(bytes(data))
    with pytest.raises(FormatError, match="damaged"):
        load_ttc(path.read_bytes()[:-64])
