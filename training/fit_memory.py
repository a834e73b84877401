"""Fit the document memory's blend on validation files and store it in model files.

    python -m training.fit_memory --models-dir models --corpus data/corpus --write

The engine blends the model's next-character distribution with the memory's vote
(engine_c/memory.c): p = (1 - w) p_model + w p_memory, where
w = sigmoid(b0 + b1 ln(match length) + b2 ln(votes) + b3 top p_model + b4 top share of
the vote). The engine reports, for every character of a text, what the memory saw
(Model.memory_features); this fits b0..b4 by maximum likelihood on those and, with
--write, stores them in the model file's header (engine_c/FORMAT.md).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

from training.evaluate import take_characters, validation_texts
from training.export import set_memory_blend
from ttcc.engine import Model, ModelError
from ttcc.languages import BASE_MODEL, LANGUAGES

DEFAULT_BLEND = (-3.0, 1.5, 0.5, -2.0, 2.0)  # engine_c/memory.c, ttc_memory_default_blend


def collect_features(model: Model, texts: list[str], max_chars: int) -> np.ndarray:
    """[characters, 6] rows of Model.memory_features over up to max_chars of texts."""
    rows = [model.memory_features(text) for text in take_characters(texts, max_chars)]
    return np.array([row for text_rows in rows for row in text_rows], dtype=np.float64)


def bits_per_char(features: np.ndarray, blend: torch.Tensor) -> torch.Tensor:
    """Mean bits per character of the blended distribution with parameters `blend`."""
    f = torch.from_numpy(features)
    model_p, memory_p, length, votes, model_top, memory_top = f.unbind(1)
    voted = votes > 0
    x = (blend[0] + blend[1] * torch.log(length.clamp(min=1)) + blend[2] * torch.log(
        votes.clamp(min=1)) + blend[3] * model_top + blend[4] * memory_top)
    weight = torch.sigmoid(x) * voted
    p = (1 - weight) * model_p + weight * memory_p
    return -torch.log2(p.clamp(min=1e-30)).mean()


def fit_blend(features: np.ndarray, steps: int = 60) -> tuple[list[float], dict[str, float]]:
    """The maximum-likelihood blend and bits/char: model alone, default, fitted."""
    blend = torch.tensor(DEFAULT_BLEND, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([blend], max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = bits_per_char(features, blend)
        loss.backward()
        return loss

    optimizer.step(closure)
    fitted = [float(v) for v in blend.detach()]
    if not all(math.isfinite(v) and abs(v) <= 100 for v in fitted):
        fitted = list(DEFAULT_BLEND)
    model_alone = float(-np.log2(np.clip(features[:, 0], 1e-30, None)).mean())
    report = {
        "model_alone": model_alone,
        "default_blend": float(bits_per_char(features, torch.tensor(DEFAULT_BLEND,
                                                                    dtype=torch.float64))),
        "fitted_blend": float(bits_per_char(features, torch.tensor(fitted,
                                                                   dtype=torch.float64))),
    }
    return fitted, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.fit_memory",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", default="ttcc/models", help="NAME.ttc per language")
    parser.add_argument("--corpus", default="data/corpus")
    parser.add_argument("--languages", default="all",
                        help="comma-separated, or 'all' (the base is fitted on every language)")
    parser.add_argument("--max-chars", type=int, default=100_000,
                        help="validation characters per language (default 100000)")
    parser.add_argument("--write", action="store_true", help="store the fit in the model files")
    args = parser.parse_args(argv)
    corpus, models_dir = Path(args.corpus), Path(args.models_dir)
    languages = (list(LANGUAGES) if args.languages == "all"
                 else [name.strip() for name in args.languages.split(",")])
    try:
        per_language = {lang: validation_texts(corpus, lang) for lang in languages}
        targets = {lang: [lang] for lang in languages if (models_dir / f"{lang}.ttc").is_file()}
        if (models_dir / f"{BASE_MODEL}.ttc").is_file() and args.languages == "all":
            targets[BASE_MODEL] = languages
        if not targets:
            raise FileNotFoundError(f"{models_dir}: no model files for {', '.join(languages)}")
        print("| model | bits/char, model alone | default blend | fitted blend | fit |")
        print("|---|---|---|---|---|")
        for name, fitted_on in targets.items():
            path = models_dir / f"{name}.ttc"
            model = Model.load(path)
            share = args.max_chars // len(fitted_on)
            features = np.concatenate([collect_features(model, per_language[lang], share)
                                       for lang in fitted_on])
            blend, report = fit_blend(features)
            print(f"| {name} | {report['model_alone']:.3f} | {report['default_blend']:.3f} "
                  f"| {report['fitted_blend']:.3f} | {', '.join(f'{v:.2f}' for v in blend)} |")
            if args.write:
                set_memory_blend(path, blend)
    except (OSError, ModelError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
