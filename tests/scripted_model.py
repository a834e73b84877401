"""Models whose greedy continuation is known in advance, for testing decoding.

A one-layer model whose attention and feed-forward blocks write nothing is a
bigram model: the logits depend only on the last token. Giving each scripted
character its own embedding direction and the classifier one row per
successor makes the engine follow a script like {"Q": "A", "A": "\\n"} exactly.
"""

import math
from pathlib import Path

import torch

from training import tokens
from training.export import export_ttc
from training.model import ModelConfig, Transformer

DIM = 64


def token_of(char: str) -> int:
    return {"<EOS>": tokens.EOS, "<END>": tokens.FIM_END}.get(char) or ord(char)


def export_scripted(path: Path, successors: dict[str, str], probability: float = 0.999) -> Path:
    """Export a model that, after each key of successors, predicts its value with the
    given probability (the other 127 tokens share the rest evenly). Keys are single
    characters; values are characters or "<EOS>" / "<END>"."""
    if len(successors) > DIM:
        raise ValueError(f"at most {DIM} scripted characters")
    config = ModelConfig(
        dim=DIM,
        n_layers=1,
        n_heads=4,
        n_kv_heads=4,
        hidden_dim=DIM,
        window=256,
        tied_embeddings=False,
    )
    model = Transformer(config)
    # The logit that gives `probability` against 127 equally likely others, divided by
    # the factor sqrt(DIM) that RMSNorm puts on a one-hot embedding.
    logit = math.log(probability * (tokens.VOCAB_SIZE - 1) / (1 - probability))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        for norm in (model.norm, model.layers[0].attention_norm, model.layers[0].ffn_norm):
            norm.weight.fill_(1.0)
        for slot, (char, successor) in enumerate(successors.items()):
            model.tok_embeddings.weight[token_of(char), slot] = 1.0
            model.output.weight[token_of(successor), slot] = logit / math.sqrt(DIM)
    export_ttc(model, path, {"language": "scripted"})
    return path
