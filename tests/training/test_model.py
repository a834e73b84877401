"""The PyTorch reference model (training/model.py)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from training.model import (
    PRESETS,
    ModelConfig,
    Transformer,
    apply_rope,
    load_checkpoint,
    rope_tables,
    save_checkpoint,
)
from training.tokens import PAD, VOCAB_SIZE

TINY = PRESETS["tiny"]


def make_model(seed: int = 0, spread: bool = False, **changes: Any) -> Transformer:
    """A tiny model in eval mode. With spread=True the weights are large and the norm
    weights random, so that attention is far from uniform and every weight matters."""
    torch.manual_seed(seed)
    model = Transformer(dataclasses.replace(TINY, **changes))
    if spread:
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith("norm.weight"):
                    p.copy_(1.0 + 0.3 * torch.randn_like(p))
                else:
                    p.normal_(0.0, 0.2)
    return model.eval()


def random_tokens(batch: int, seq: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, VOCAB_SIZE, (batch, seq), generator=g)


def reference_logits(model: Transformer, tokens: list[int]) -> np.ndarray:
    """FORMAT.md's network, one token at a time with a key/value cache, in float64."""
    cfg = model.config
    w = {k: v.detach().double().numpy() for k, v in model.state_dict().items()}
    hd, rep = cfg.head_dim, cfg.n_heads // cfg.kv_heads

    def rmsnorm(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
        return x / math.sqrt(float(np.mean(x * x)) + cfg.norm_eps) * weight

    def rope(vec: np.ndarray, pos: int) -> np.ndarray:
        out = vec.copy()
        for head in range(len(vec) // hd):
            for i in range(0, hd, 2):  # the pair (i, i+1) = (2j, 2j+1)
                angle = pos * cfg.rope_theta ** (-i / hd)
                a, b = vec[head * hd + i], vec[head * hd + i + 1]
                out[head * hd + i] = a * math.cos(angle) - b * math.sin(angle)
                out[head * hd + i + 1] = a * math.sin(angle) + b * math.cos(angle)
        return out

    keys: list[list[np.ndarray]] = [[] for _ in range(cfg.n_layers)]
    values: list[list[np.ndarray]] = [[] for _ in range(cfg.n_layers)]
    all_logits = []
    for pos, token in enumerate(tokens):
        x = w["tok_embeddings.weight"][token].copy()
        for layer in range(cfg.n_layers):
            p = f"layers.{layer}."
            n = rmsnorm(x, w[p + "attention_norm.weight"])
            q = rope(w[p + "attention.wq.weight"] @ n, pos)
            keys[layer].append(rope(w[p + "attention.wk.weight"] @ n, pos))
            values[layer].append(w[p + "attention.wv.weight"] @ n)
            att = np.zeros(cfg.n_heads * hd)
            for head in range(cfg.n_heads):
                kv = head // rep
                qh = q[head * hd : (head + 1) * hd]
                scores = np.array([qh @ k[kv * hd : (kv + 1) * hd] for k in keys[layer]])
                scores = np.exp((scores - scores.max()) / math.sqrt(hd))
                scores /= scores.sum()
                for t, v in enumerate(values[layer]):
                    att[head * hd : (head + 1) * hd] += scores[t] * v[kv * hd : (kv + 1) * hd]
            x = x + w[p + "attention.wo.weight"] @ att
            m = rmsnorm(x, w[p + "ffn_norm.weight"])
            gate = w[p + "feed_forward.w1.weight"] @ m
            up = w[p + "feed_forward.w3.weight"] @ m
            x = x + w[p + "feed_forward.w2.weight"] @ (gate / (1 + np.exp(-gate)) * up)
        all_logits.append(w["output.weight"] @ rmsnorm(x, w["norm.weight"]))
    return np.stack(all_logits)


@pytest.mark.parametrize(
    "changes",
    [
        {},  # tiny: grouped-query attention, 4 query heads over 2 key/value heads, tied
        {"n_kv_heads": None, "tied_embeddings": False},
        {"n_kv_heads": 1, "rope_theta": 500.0},
    ],
)
def test_matches_the_network_format_md_describes(changes: dict[str, Any]) -> None:
    model = make_model(spread=True, **changes)
    tokens = random_tokens(1, 12)
    logits, loss = model(tokens)
    assert loss is None
    assert logits.shape == (1, 12, VOCAB_SIZE)
    expected = reference_logits(model, tokens[0].tolist())
    np.testing.assert_allclose(
        logits[0].double().detach().numpy(), expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max()
    )


def test_causal_later_tokens_never_change_earlier_logits() -> None:
    model = make_model(spread=True)
    tokens = random_tokens(2, 40)
    changed = tokens.clone()
    changed[:, 25:] = random_tokens(2, 15, seed=7)
    with torch.no_grad():
        a, _ = model(tokens)
        b, _ = model(changed)
    torch.testing.assert_close(a[:, :25], b[:, :25], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(a[:, 25:], b[:, 25:])


def test_a_prefix_alone_gives_the_same_logits() -> None:
    model = make_model(spread=True)
    tokens = random_tokens(1, 30)
    with torch.no_grad():
        full, _ = model(tokens)
        prefix, _ = model(tokens[:, :10])
    torch.testing.assert_close(full[:, :10], prefix, rtol=1e-5, atol=1e-5)


def test_grouped_query_attention_shapes_and_parameters() -> None:
    gqa = make_model()  # 4 heads, 2 kv heads, head_dim 16
    mha = make_model(n_kv_heads=None)
    att = gqa.blocks[0].attention
    assert att.wq.weight.shape == (64, 64)
    assert att.wk.weight.shape == (32, 64)
    assert att.wv.weight.shape == (32, 64)
    assert att.wo.weight.shape == (64, 64)
    saved = 2 * TINY.n_layers * 32 * 64  # wk and wv have half the rows
    assert mha.num_parameters() - gqa.num_parameters() == saved


def test_gqa_equals_attention_with_repeated_kv_heads() -> None:
    gqa = make_model(spread=True)
    mha = Transformer(dataclasses.replace(gqa.config, n_kv_heads=None)).eval()
    state = gqa.state_dict()
    hd = gqa.config.head_dim
    for key in list(state):
        if key.endswith(("attention.wk.weight", "attention.wv.weight")):
            heads = state[key].view(gqa.config.kv_heads, hd, -1)
            state[key] = heads.repeat_interleave(2, dim=0).reshape(-1, heads.shape[-1])
    mha.load_state_dict(state)
    tokens = random_tokens(2, 20)
    with torch.no_grad():
        torch.testing.assert_close(gqa(tokens)[0], mha(tokens)[0], rtol=1e-5, atol=1e-5)


def test_tied_and_untied_classifier() -> None:
    tied = make_model()
    untied = make_model(tied_embeddings=False)
    assert tied.output.weight is tied.tok_embeddings.weight
    assert untied.output.weight is not untied.tok_embeddings.weight
    assert untied.num_parameters() - tied.num_parameters() == VOCAB_SIZE * TINY.dim
    expected = sum(p.numel() for p in untied.parameters())
    assert untied.num_parameters() == expected
    assert untied.num_parameters(exclude_embedding=True) == expected - VOCAB_SIZE * TINY.dim
    tokens = random_tokens(1, 8)
    for model in (tied, untied):
        logits, _ = model(tokens)
        assert logits.shape == (1, 8, VOCAB_SIZE)
        assert torch.isfinite(logits).all()


def test_loss_is_mean_cross_entropy_over_non_pad_targets() -> None:
    model = make_model(spread=True)
    tokens = random_tokens(2, 16)
    targets = random_tokens(2, 16, seed=3)
    targets[0, 10:] = PAD
    targets[1, :4] = PAD
    logits, loss = model(tokens, targets)
    assert loss is not None
    keep = targets != PAD
    expected = F.cross_entropy(logits[keep], targets[keep])
    torch.testing.assert_close(loss, expected)
    # What a PAD target's logits say does not matter.
    other = targets.clone()
    other[~keep] = PAD
    assert torch.equal(model(tokens, other)[1], loss)


def test_loss_with_only_pad_targets_is_zero_not_nan() -> None:
    model = make_model()
    tokens = random_tokens(1, 8)
    _, loss = model(tokens, torch.full_like(tokens, PAD))
    assert loss is not None and loss.item() == 0.0


def test_training_steps_lower_the_loss() -> None:
    model = make_model(dropout=0.1).train()
    tokens = random_tokens(4, 32)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        _, loss = model(inputs, targets)
        assert loss is not None
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.5
    assert model.output.weight is model.tok_embeddings.weight  # still tied


def test_dropout_only_in_training_mode() -> None:
    model = make_model(dropout=0.5)
    tokens = random_tokens(1, 16)
    with torch.no_grad():
        assert torch.equal(model(tokens)[0], model(tokens)[0])
        model.train()
        assert not torch.equal(model(tokens)[0], model(tokens)[0])


def test_rope_rotates_interleaved_pairs() -> None:
    head_dim, theta = 8, 10000.0
    cos, sin = rope_tables(head_dim, 16, theta)
    x = torch.randn(1, 16, 2, head_dim)
    out = apply_rope(x, cos, sin)
    torch.testing.assert_close(out[:, 0], x[:, 0])  # position 0 is not rotated
    pos, j = 5, 2  # pair (4, 5) of head 1 at position 5
    angle = pos * theta ** (-2 * j / head_dim)
    a, b = x[0, pos, 1, 2 * j].item(), x[0, pos, 1, 2 * j + 1].item()
    assert out[0, pos, 1, 2 * j].item() == pytest.approx(
        a * math.cos(angle) - b * math.sin(angle), abs=1e-5
    )
    assert out[0, pos, 1, 2 * j + 1].item() == pytest.approx(
        a * math.sin(angle) + b * math.cos(angle), abs=1e-5
    )
    # Rotations keep lengths, and q.k depends only on the distance between positions.
    torch.testing.assert_close(out.norm(dim=-1), x.norm(dim=-1))
    q = torch.randn(head_dim).expand(1, 16, 1, head_dim)
    k = torch.randn(head_dim).expand(1, 16, 1, head_dim)
    rq, rk = apply_rope(q, cos, sin)[0, :, 0], apply_rope(k, cos, sin)[0, :, 0]
    assert (rq[7] @ rk[4]).item() == pytest.approx((rq[3] @ rk[0]).item(), abs=1e-5)


def test_sequence_longer_than_the_window_is_refused() -> None:
    model = make_model(window=16)
    model(random_tokens(1, 16))
    with pytest.raises(ValueError, match="window"):
        model(random_tokens(1, 17))


def test_init_is_small_with_scaled_residual_projections() -> None:
    torch.manual_seed(0)
    model = Transformer(PRESETS["seed"])
    assert model.tok_embeddings.weight.std().item() == pytest.approx(0.02, rel=0.05)
    layer = model.blocks[0]
    assert layer.attention.wq.weight.std().item() == pytest.approx(0.02, rel=0.05)
    residual = 0.02 / math.sqrt(2 * 6)
    assert layer.attention.wo.weight.std().item() == pytest.approx(residual, rel=0.05)
    assert layer.feed_forward.w2.weight.std().item() == pytest.approx(residual, rel=0.05)
    assert torch.equal(layer.ffn_norm.weight, torch.ones(288))
    assert 5_000_000 < model.num_parameters() < 7_000_000


@pytest.mark.parametrize(
    "bad",
    [
        {"dim": 60, "n_heads": 8},  # not divisible
        {"dim": 60, "n_heads": 4, "hidden_dim": 60},  # head_dim 15 is odd
        {"n_kv_heads": 3},  # does not divide 4 heads
        {"n_layers": 0},
        {"dropout": 1.0},
        {"rope_theta": -1.0},
    ],
)
def test_bad_configs_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(TINY, **bad)


def test_config_dict_round_trip() -> None:
    for cfg in PRESETS.values():
        assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown ModelConfig fields: colour"):
        ModelConfig.from_dict({**TINY.to_dict(), "colour": "blue"})
    assert ModelConfig(dim=64, n_heads=4).kv_heads == 4


@pytest.mark.parametrize("tied", [True, False])
def test_checkpoint_round_trip(tmp_path: Path, tied: bool) -> None:
    model = make_model(spread=True, tied_embeddings=tied)
    path = tmp_path / "ckpt.pt"
    save_checkpoint(
        path, model, step=12, language="python", metrics={"bpc": 1.5}, history=[1.0, 2.0]
    )
    loaded, extra = load_checkpoint(path)
    assert extra == {
        "step": 12,
        "language": "python",
        "metrics": {"bpc": 1.5},
        "history": [1.0, 2.0],
    }
    assert loaded.config == model.config
    assert not loaded.training
    assert (loaded.output.weight is loaded.tok_embeddings.weight) == tied
    tokens = random_tokens(1, 20)
    with torch.no_grad():
        assert torch.equal(loaded(tokens)[0], model(tokens)[0])


def test_checkpoint_of_a_compiled_model_style_wrapper(tmp_path: Path) -> None:
    class Wrapper(torch.nn.Module):  # stands in for DDP (.module) / torch.compile
        def __init__(self, module: Transformer) -> None:
            super().__init__()
            self.module = module

    model = make_model()
    save_checkpoint(tmp_path / "c.pt", Wrapper(model))
    loaded, extra = load_checkpoint(tmp_path / "c.pt")
    assert extra == {}
    assert torch.equal(loaded.tok_embeddings.weight, model.tok_embeddings.weight)


def test_load_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(garbage)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ValueError, match="not a ttcc checkpoint"):
        load_checkpoint(other)
