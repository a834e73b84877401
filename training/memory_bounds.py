"""How much any document memory of the engine's kind could add, on validation files.

    python -m training.memory_bounds --models-dir models --languages python,rust,go

The memory blends p = (1 - w) p_model + w p_memory, w from the match it found
(engine_c/memory.c). Per language this prints:

- bits/char of the model alone, of the engine's blend, and the per-character best of
  the two: p = max(p_model, p_memory) for the right character. No blend weight,
  however it is computed, does better, so this bounds the gain a better blend can buy;
- keystrokes saved with a perfect stop rule, memory off and on: every suggestion
  (the engine's greedy line, up to 64 characters on one line, no confidence floor)
  cut at its first wrong character, as if the stop rule knew what comes next. Their
  ratio is what the memory adds to the characters suggested; the rest of the gain
  measured with the real stop rule (training.evaluate) comes from confidence alone.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from training.evaluate import (
    TypingResult,
    bits_per_character,
    simulate_typing,
    take_characters,
    validation_texts,
)
from training.fit_memory import collect_features
from ttcc.engine import Model, ModelError
from ttcc.languages import LANGUAGES

GREEDY_LINE = {"multiline": False, "max_chars": 64, "min_confidence": 0.0}


def bits_bounds(model: Model, texts: list[str], max_chars: int) -> dict[str, float]:
    """Bits/char of the model alone, of the engine's blend, and of the per-character best."""
    scored = list(take_characters(texts, max_chars))
    features = collect_features(model, scored, max_chars)
    model_p, memory_p = features[:, 0], features[:, 1]
    blended_bits = sum(bits_per_character(model, text)[0] for text in scored)
    return {
        "model_alone": float(-np.log2(np.clip(model_p, 1e-30, None)).mean()),
        "blend": blended_bits / len(features),
        "best_of_both": float(-np.log2(np.clip(np.maximum(model_p, memory_p), 1e-30,
                                               None)).mean()),
    }


def perfect_stop_saved(model: Model, texts: list[str], typing_chars: int, memory: bool,
                       progress: bool) -> float:
    """Keystrokes saved when every greedy line is cut at its first wrong character."""
    typed = list(take_characters(texts, typing_chars))
    result = TypingResult()
    with tqdm(total=sum(map(len, typed)), desc=f"typing, memory {'on' if memory else 'off'}",
              unit="char", disable=not progress, leave=False) as bar:
        for text in typed:
            result.add(simulate_typing(model.session(), text, perfect_stop=True,
                                       document_memory=memory, **GREEDY_LINE))
            bar.update(len(text))
    return 1 - result.keystrokes / max(result.characters, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.memory_bounds",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", default="ttcc/models", help="NAME.ttc per language")
    parser.add_argument("--corpus", default="data/corpus")
    parser.add_argument("--languages", default="all", help="comma-separated, or 'all'")
    parser.add_argument("--score-chars", type=int, default=200_000,
                        help="characters per language for bits/char (default 200000)")
    parser.add_argument("--typing-chars", type=int, default=5_000,
                        help="characters per language typed with the perfect stop "
                             "(default 5000: each keystroke decodes a whole line)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    languages = (list(LANGUAGES) if args.languages == "all"
                 else [name.strip() for name in args.languages.split(",") if name.strip()])
    print("| language | bits/char: model alone | blend | best of both | fewer bits: blend "
          "| best of both | perfect stop saved: off | on | ratio |")
    print("|" + "---|" * 9)
    for language in languages:
        try:
            model = Model.load(Path(args.models_dir) / f"{language}.ttc")
            texts = validation_texts(Path(args.corpus), language)
        except (OSError, ModelError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        bits = bits_bounds(model, texts, args.score_chars)
        off, on = (perfect_stop_saved(model, texts, args.typing_chars, memory,
                                      not args.no_progress) for memory in (False, True))
        fewer = {name: 1 - bits[name] / bits["model_alone"] for name in ("blend", "best_of_both")}
        print(f"| {language} | {bits['model_alone']:.3f} | {bits['blend']:.3f} "
              f"| {bits['best_of_both']:.3f} | {fewer['blend']:.1%} | {fewer['best_of_both']:.1%} "
              f"| {off:.1%} | {on:.1%} | {on / off if off else math.nan:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
