"""The reference model: a small llama-style transformer over 7-bit characters.

This is the network that `engine_c/FORMAT.md` describes and that the C engine runs
from int8 weights; tests compare the two. Read top to bottom:

    x = embed(token)
    per layer:
        n = rmsnorm(x) * attention_norm;  x += wo · attention(rope(wq·n), rope(wk·n), wv·n)
        m = rmsnorm(x) * ffn_norm;        x += w2 · (silu(w1·m) * (w3·m))
    logits = classifier · (rmsnorm(x) * final_norm)

RoPE rotates the interleaved pairs (2i, 2i+1) of every head by the angle
pos * rope_theta^(-2i/head_dim). With grouped-query attention, query head h reads
key/value head h // (n_heads / n_kv_heads). No layer has a bias.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from os import PathLike
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.tokens import PAD, VOCAB_SIZE

CHECKPOINT_FORMAT = "ttcc-checkpoint-1"


@dataclass
class ModelConfig:
    dim: int = 288  # model width: size of the residual stream and of each token embedding
    n_layers: int = 6  # number of transformer blocks
    n_heads: int = 6  # query heads; head_dim = dim // n_heads, must be even (RoPE pairs)
    n_kv_heads: int | None = None  # key/value heads (grouped-query attention); None = n_heads
    hidden_dim: int = 768  # width of the SwiGLU feed-forward layer
    vocab_size: int = VOCAB_SIZE  # one token per 7-bit character code
    window: int = 2048  # context window: the longest sequence the model is run on
    rope_theta: float = 10000.0  # RoPE base
    norm_eps: float = 1e-5  # RMSNorm epsilon
    tied_embeddings: bool = True  # the classifier reuses the token embedding matrix
    dropout: float = 0.0  # dropout on attention weights and residual branches (training only)

    def __post_init__(self) -> None:
        for name in ("dim", "n_layers", "n_heads", "hidden_dim", "vocab_size", "window"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ModelConfig.{name} must be a positive integer, got {value!r}")
        if self.n_kv_heads is not None and (
            not isinstance(self.n_kv_heads, int) or self.n_kv_heads < 1
        ):
            raise ValueError(
                f"ModelConfig.n_kv_heads must be a positive integer or None, "
                f"got {self.n_kv_heads!r}"
            )
        if self.dim % self.n_heads != 0:
            raise ValueError(f"dim ({self.dim}) must be divisible by n_heads ({self.n_heads})")
        if self.head_dim % 2 != 0:
            raise ValueError(f"head_dim = dim / n_heads = {self.head_dim} must be even for RoPE")
        if self.n_heads % self.kv_heads != 0:
            raise ValueError(f"n_kv_heads ({self.kv_heads}) must divide n_heads ({self.n_heads})")
        if not (self.rope_theta > 0 and math.isfinite(self.rope_theta)):
            raise ValueError(f"rope_theta must be a positive number, got {self.rope_theta!r}")
        if not (self.norm_eps > 0 and math.isfinite(self.norm_eps)):
            raise ValueError(f"norm_eps must be a positive number, got {self.norm_eps!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    @property
    def kv_heads(self) -> int:
        """The number of key/value heads, with None resolved to n_heads."""
        return self.n_heads if self.n_kv_heads is None else self.n_kv_heads

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown ModelConfig fields: {', '.join(unknown)}")
        return cls(**d)


PRESETS: dict[str, ModelConfig] = {
    # The first shipped model: about 6M parameters.
    "seed": ModelConfig(dim=288, n_layers=6, n_heads=6, n_kv_heads=6, hidden_dim=768, window=2048),
    # Smaller sizes for CPU budgets (the training study compares them); about 0.8M,
    # 1.8M and 3.9M parameters.
    "micro": ModelConfig(dim=128, n_layers=4, n_heads=4, hidden_dim=352, window=512),
    "small": ModelConfig(dim=192, n_layers=4, n_heads=6, hidden_dim=512, window=512),
    "medium": ModelConfig(dim=256, n_layers=5, n_heads=8, hidden_dim=672, window=512),
    # For tests: small, fast, and it exercises grouped-query attention.
    "tiny": ModelConfig(dim=64, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=192, window=256),
}


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))  # [dim]

    def forward(self, x: Tensor) -> Tensor:
        xf = x.float()
        normed = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return normed.type_as(x) * self.weight


def rope_tables(head_dim: int, length: int, theta: float) -> tuple[Tensor, Tensor]:
    """cos and sin of pos * theta^(-2i/head_dim), each [length, head_dim // 2]."""
    exponents = torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim  # 2i / head_dim
    inv_freq = theta**-exponents
    angles = torch.outer(torch.arange(length, dtype=torch.float64), inv_freq)
    return torch.cos(angles).float(), torch.sin(angles).float()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate the interleaved pairs (2i, 2i+1) of each head.

    x: [batch, seq, heads, head_dim]; cos, sin: [seq, head_dim // 2].
    """
    pairs = x.float().reshape(*x.shape[:-1], -1, 2)  # [batch, seq, heads, head_dim/2, 2]
    x0, x1 = pairs.unbind(-1)
    c = cos[None, :, None, :]
    s = sin[None, :, None, :]
    rotated = torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1)
    return rotated.flatten(-2).type_as(x)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.n_kv_heads = cfg.kv_heads
        self.head_dim = cfg.head_dim
        self.dropout = cfg.dropout
        self.wq = nn.Linear(cfg.dim, cfg.n_heads * cfg.head_dim, bias=False)  # [q_dim, dim]
        self.wk = nn.Linear(cfg.dim, cfg.kv_heads * cfg.head_dim, bias=False)  # [kv_dim, dim]
        self.wv = nn.Linear(cfg.dim, cfg.kv_heads * cfg.head_dim, bias=False)  # [kv_dim, dim]
        self.wo = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.dim, bias=False)  # [dim, q_dim]
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        batch, seq, _ = x.shape
        q = self.wq(x).view(batch, seq, self.n_heads, self.head_dim)
        k = self.wk(x).view(batch, seq, self.n_kv_heads, self.head_dim)
        v = self.wv(x).view(batch, seq, self.n_kv_heads, self.head_dim)
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        # Grouped-query attention: query head h reads key/value head h // n_rep.
        n_rep = self.n_heads // self.n_kv_heads
        if n_rep > 1:
            k = k.repeat_interleave(n_rep, dim=2)
            v = v.repeat_interleave(n_rep, dim=2)
        # [batch, heads, seq, head_dim]
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        out = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0
        )
        out = out.transpose(1, 2).reshape(batch, seq, self.n_heads * self.head_dim)
        return self.resid_dropout(self.wo(out))


class FeedForward(nn.Module):
    """SwiGLU: w2(silu(w1 x) * w3 x)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.w1 = nn.Linear(cfg.dim, cfg.hidden_dim, bias=False)  # gate [hidden_dim, dim]
        self.w2 = nn.Linear(cfg.hidden_dim, cfg.dim, bias=False)  # down [dim, hidden_dim]
        self.w3 = nn.Linear(cfg.dim, cfg.hidden_dim, bias=False)  # up   [hidden_dim, dim]
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.w2(F.silu(self.w1(x)) * self.w3(x)))


class TransformerBlock(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.attention_norm = RMSNorm(cfg.dim, cfg.norm_eps)  # [dim]
        self.attention = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)  # [dim]
        self.feed_forward = FeedForward(cfg)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        x = x + self.attention(self.attention_norm(x), cos, sin)
        return x + self.feed_forward(self.ffn_norm(x))


class Transformer(nn.Module):
    rope_cos: Tensor
    rope_sin: Tensor

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)  # [vocab_size, dim]
        self.dropout = nn.Dropout(cfg.dropout)
        self.layers = nn.ModuleList(TransformerBlock(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)  # final_norm [dim]
        self.output = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)  # classifier [vocab, dim]
        if cfg.tied_embeddings:
            self.output.weight = self.tok_embeddings.weight
        # Derived from the config, so not saved in checkpoints.
        cos, sin = rope_tables(cfg.head_dim, cfg.window, cfg.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

        self.apply(self._init_weights)
        # Scaled init for the projections that write into the residual stream (GPT-2).
        residual_std = 0.02 / math.sqrt(2 * cfg.n_layers)
        for layer in self.blocks:
            nn.init.normal_(layer.attention.wo.weight, mean=0.0, std=residual_std)
            nn.init.normal_(layer.feed_forward.w2.weight, mean=0.0, std=residual_std)

    @property
    def blocks(self) -> list[TransformerBlock]:
        """The layers, typed (iterating an nn.ModuleList gives plain Modules)."""
        return [cast(TransformerBlock, layer) for layer in self.layers]

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_parameters(self, exclude_embedding: bool = False) -> int:
        """Number of distinct parameters (a tied classifier is counted once)."""
        total = sum(p.numel() for p in self.parameters())  # parameters() skips duplicates
        if exclude_embedding:
            total -= self.tok_embeddings.weight.numel()
        return total

    def forward(
        self, tokens: Tensor, targets: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Logits for every position, and the loss when targets are given.

        tokens: [batch, seq] token ids, seq <= window, positions start at 0.
        targets: [batch, seq] next-token ids; PAD targets are ignored.
        Returns (logits [batch, seq, vocab_size], mean cross-entropy or None).
        """
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be [batch, seq], got shape {tuple(tokens.shape)}")
        seq = tokens.shape[1]
        if seq > self.config.window:
            raise ValueError(
                f"sequence of {seq} tokens is longer than the window ({self.config.window})"
            )
        cos, sin = self.rope_cos[:seq], self.rope_sin[:seq]
        x = self.dropout(self.tok_embeddings(tokens))
        for layer in self.blocks:
            x = layer(x, cos, sin)
        logits = self.output(self.norm(x))
        if targets is None:
            return logits, None
        # Mean over the non-PAD targets (zero, not NaN, when every target is PAD).
        flat_targets = targets.reshape(-1)
        total = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(),
            flat_targets,
            ignore_index=PAD,
            reduction="sum",
        )
        count = (flat_targets != PAD).sum().clamp(min=1)
        return logits, total / count


def _unwrap(model: nn.Module) -> Transformer:
    """The Transformer inside a DDP and/or torch.compile wrapper."""
    while not isinstance(model, Transformer):
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if inner is None:
            raise TypeError(f"expected a Transformer, got {type(model).__name__}")
        model = inner
    return model


def save_checkpoint(path: str | PathLike[str], model: nn.Module, **extra: Any) -> None:
    """Save the weights with their config; `extra` (step, optimizer state, metrics, ...)
    comes back from load_checkpoint. Extras must be plain data (numbers, strings, lists,
    dicts, tensors) so that checkpoints load with torch.load(weights_only=True)."""
    inner = _unwrap(model)
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "config": inner.config.to_dict(),
            "model": inner.state_dict(),
            "extra": extra,
        },
        path,
    )


def load_checkpoint(
    path: str | PathLike[str], map_location: str | torch.device = "cpu"
) -> tuple[Transformer, dict[str, Any]]:
    """Load a checkpoint written by save_checkpoint: (model in eval mode, extra)."""
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # torch raises many kinds of errors for a file it cannot read
        raise ValueError(
            f"{path}: not a readable checkpoint ({e.__class__.__name__}: "
            f"{str(e).splitlines()[0] if str(e) else 'no detail'})"
        ) from e
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a ttcc checkpoint (expected format {CHECKPOINT_FORMAT!r})")
    model = Transformer(ModelConfig.from_dict(data["config"]))
    model.load_state_dict(data["model"])
    model.eval()
    return model, dict(data.get("extra", {}))
