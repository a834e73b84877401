"""Training examples drawn from the packed corpus (training/corpus.py writes it).

A language's split is one uint8 token stream in which every file reads
`BOS text EOS`. An example is a window of that stream, laid out one of the two ways
the engine prompts the model (engine_c/session.c, build_prompt):

    plain:  BOS text...                                  (the window's first token
                                                          becomes BOS, as when the
                                                          engine starts mid-file)
    FIM:    PRE SUF suffix MID prefix middle END         (suffix first, "SPM")

Batches depend only on (seed, rank, step), so a resumed run sees exactly the batches
the uninterrupted run would have, and every data-parallel rank sees different ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from training.tokens import BOS, FIM_END, FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX

# How much of the text after the cursor the engine keeps: the first window/8 bytes.
SUFFIX_SHARE = 8


class DataError(ValueError):
    """The corpus directory is missing, empty or not what the trainer expects."""


def corpus_languages(corpus: str | Path) -> list[str]:
    """The languages that have a packed training split in `corpus`, sorted."""
    root = Path(corpus)
    if not root.is_dir():
        raise DataError(f"{root}: no corpus directory (build one with python -m training.corpus)")
    found = sorted(p.parent.name for p in root.glob("*/train.bin"))
    if not found:
        raise DataError(f"{root}: no <language>/train.bin inside (is it a built corpus?)")
    return found


def load_split(corpus: str | Path, languages: Sequence[str], split: str) -> list[np.ndarray]:
    """Memory-maps `<corpus>/<language>/<split>.bin` for each language."""
    streams = []
    for language in languages:
        path = Path(corpus) / language / f"{split}.bin"
        if not path.is_file():
            raise DataError(f"{path}: missing (languages in the corpus: "
                            f"{', '.join(corpus_languages(corpus))})")
        stream = np.memmap(path, dtype=np.uint8, mode="r")
        streams.append(stream)
    return streams


@dataclass
class ExampleMaker:
    """Cuts examples of `length + 1` tokens (inputs and shifted targets) from streams."""

    streams: list[np.ndarray]  # one token stream per language
    length: int  # tokens per example; the model's window
    fim_rate: float = 0.5  # share of examples laid out for fill-in-the-middle
    weights: Sequence[float] | None = None  # how often each stream is drawn; None = equally

    def __post_init__(self) -> None:
        if not 0.0 <= self.fim_rate <= 1.0:
            raise DataError(f"fim_rate must be in [0, 1], got {self.fim_rate}")
        if self.length < 16:
            raise DataError(f"examples of {self.length} tokens are too short (16 at least)")
        for stream in self.streams:
            if len(stream) <= self.length + 1:
                raise DataError(
                    f"a token stream of {len(stream)} tokens is too short for examples of "
                    f"{self.length} tokens"
                )
        w = np.ones(len(self.streams)) if self.weights is None else np.asarray(self.weights)
        self._probabilities = w / w.sum()

    def batch(self, batch_size: int, seed: int, rank: int, step: int) -> tuple[torch.Tensor, ...]:
        """(inputs, targets), each [batch_size, length] int64, for this step and rank."""
        rng = np.random.default_rng([seed, rank, step])
        rows = np.empty((batch_size, self.length + 1), dtype=np.int64)
        for row in rows:
            stream = self.streams[rng.choice(len(self.streams), p=self._probabilities)]
            start = int(rng.integers(0, len(stream) - self.length - 1))
            window = np.asarray(stream[start : start + self.length + 1], dtype=np.int64)
            if rng.random() < self.fim_rate:
                row[:] = self._fim(window, rng)
            else:
                row[:] = window
                row[0] = BOS
        tokens = torch.from_numpy(rows)
        return tokens[:, :-1], tokens[:, 1:]

    def _fim(self, window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """PRE SUF suffix MID prefix middle END, as long as `window`."""
        text = window[: len(window) - 4]
        longest_suffix = max(1, self.length // SUFFIX_SHARE)
        # Mostly the full share the engine keeps; sometimes less, as near a file's end.
        if rng.random() < 0.8:
            suffix_length = longest_suffix
        else:
            suffix_length = int(rng.integers(1, longest_suffix + 1))
        middle_length = int(rng.integers(0, longest_suffix + 1))
        prefix_length = len(text) - suffix_length - middle_length
        prefix = text[:prefix_length]
        middle = text[prefix_length : prefix_length + middle_length]
        suffix = text[prefix_length + middle_length :]
        return np.concatenate(
            ([FIM_PREFIX, FIM_SUFFIX], suffix, [FIM_MIDDLE], prefix, middle, [FIM_END])
        )


def validation_batches(
    stream: np.ndarray, length: int, batch_size: int, n_batches: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The same plain examples from a validation stream on every call."""
    maker = ExampleMaker([stream], length, fim_rate=0.0)
    return [maker.batch(batch_size, seed=0, rank=0, step=i) for i in range(n_batches)]
