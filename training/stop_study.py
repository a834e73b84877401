"""Would a learned stop rule save more keystrokes than the engine's confidence product?

    python -m training.stop_study --languages python,go,rust

The engine ends a suggestion where the product of its characters' probabilities falls
below the floor (min_confidence). A learned rule could estimate better that a suggestion
is right from what decoding knows at each character (Session.stop_features,
engine_c/stop_features.c). This fits two such rules by logistic regression and replays
the keystroke simulation of training.evaluate with each, at several floors:

- conditional: the chance that a character is right given that all before it were; the
  product along the suggestion estimates that the suggestion is right;
- direct: the chance that the suggestion up to this character is right.

Each shows either the longest suggestion whose estimate stays above the floor (what the
engine does) or, of those lengths, the one with the highest expected saving
(estimate x (length - 1); accepting costs one keystroke). Each rule is fitted twice: on
typing over the model's training split, and on typing over half of the validation
files, the best case of a rule fitted on text the model has not seen. Both are tested
on the other half of the validation files.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from training import tokens
from training.evaluate import take_characters, validation_texts
from ttcc.engine import Model, ModelError
from ttcc.languages import LANGUAGES

STOP_FEATURES = 19  # TTC_STOP_FEATURES, engine_c/ttc.h
FLOORS = (0.5, 0.6, 0.7)
_UNKNOWN = "\x01"  # a character the engine reads as UNK, for the corpus's UNK tokens


def training_texts(corpus: Path, language: str, max_chars: int, seed: int = 0) -> list[str]:
    """Files of the language's training split in a fixed random order, at most
    max_chars characters in all."""
    path = corpus / language / "train.bin"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (build it with python -m training.corpus)")
    stream = np.memmap(path, dtype=np.uint8, mode="r")
    starts = np.flatnonzero(stream == tokens.BOS)
    texts = []
    for index in np.random.default_rng(seed).permutation(len(starts)):
        if max_chars <= 0:
            break
        start = int(starts[index]) + 1
        end = start + int(np.argmax(stream[start:] == tokens.EOS))
        text = stream[start : min(end, start + max_chars)].tobytes().decode("ascii")
        texts.append(text.replace(chr(tokens.UNK), _UNKNOWN))
        max_chars -= len(text)
    return texts


@dataclass
class Keystroke:
    """The greedy line at one keystroke and how it meets the text."""

    features: np.ndarray  # [length, STOP_FEATURES]
    right: int  # characters right from its start
    shown: np.ndarray  # shown[k]: the length shown when cut after k characters (blanks trimmed)


def survey(model: Model, texts: list[str], progress: bool = True) -> list[list[Keystroke]]:
    """For every text, a Keystroke at every position, typing left to right."""
    surveyed = []
    with tqdm(total=sum(map(len, texts)), unit="char", disable=not progress,
              leave=False) as bar:
        for text in texts:
            session, keystrokes = model.session(), []
            for position in range(len(text)):
                line, rows = session.stop_features(text[:position], document_memory=True)
                right = 0
                while right < len(line) and line[right] == text[position + right : position
                                                                + right + 1]:
                    right += 1
                shown = np.array([len(line[:k].rstrip(" \t\n")) for k in range(len(line) + 1)])
                keystrokes.append(Keystroke(np.array(rows).reshape(-1, STOP_FEATURES),
                                            right, shown))
            surveyed.append(keystrokes)
            bar.update(len(text))
    return surveyed


def fit_logistic(features: np.ndarray, labels: np.ndarray, l2: float = 1e-3,
                 steps: int = 30) -> np.ndarray:
    """Weights w maximising the mean log-likelihood of labels under sigmoid(features @ w),
    less l2/2 |w|^2, by Newton's method."""
    weights = np.zeros(features.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(features @ weights)))
        gradient = features.T @ (p - labels) / len(labels) + l2 * weights
        hessian = (features.T * (p * (1 - p))) @ features / len(labels) + l2 * np.eye(
            len(weights))
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-8:
            break
    return weights


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


Estimate = Callable[[np.ndarray], np.ndarray]  # features -> estimate per length


def product_rule(features: np.ndarray) -> np.ndarray:
    """The engine's: the product of the characters' probabilities (feature 1 is their
    logit)."""
    return np.cumprod(_sigmoid(features[:, 1]))


def fit_rules(surveyed: list[list[Keystroke]]) -> dict[str, Estimate]:
    """The conditional and the direct rule fitted on the surveyed keystrokes."""
    keystrokes = [k for text in surveyed for k in text if len(k.features)]
    conditional = fit_logistic(
        np.concatenate([k.features[: k.right + 1] for k in keystrokes]),
        np.concatenate([np.arange(min(len(k.features), k.right + 1)) < k.right
                        for k in keystrokes]).astype(float))
    direct = fit_logistic(
        np.concatenate([k.features for k in keystrokes]),
        np.concatenate([np.arange(len(k.features)) < k.right for k in keystrokes]).astype(
            float))
    return {
        "conditional": lambda f: np.cumprod(_sigmoid(f @ conditional)),
        "direct": lambda f: _sigmoid(f @ direct),
    }


def replay(surveyed: list[list[Keystroke]], estimate: Estimate, floor: float,
           best_saving: bool) -> tuple[float, float]:
    """(keystrokes saved, fully-correct share) of training.evaluate's typing with the
    suggestions this rule would show."""
    saved = shown = correct = characters = 0
    for keystrokes in surveyed:
        characters += len(keystrokes)
        position = 0
        while position < len(keystrokes):
            k = keystrokes[position]
            above = 0
            if len(k.features):
                q = estimate(k.features)
                while above < len(q) and q[above] >= floor:
                    above += 1
            cut = above
            if best_saving and above:
                savings = q[:above] * (k.shown[1 : above + 1] - 1)
                cut = int(np.argmax(savings)) + 1 if savings.max() > 0 else 0
            length = int(k.shown[cut])
            if length:
                shown += 1
                if k.right >= length:
                    correct += 1
                    saved += length - 1
                    position += length
                    continue
            position += 1
    return saved / max(characters, 1), correct / max(shown, 1)


def study_language(model: Model, corpus: Path, language: str, chars: int,
                   progress: bool = True) -> list[tuple[str, str, float, float, float]]:
    """Rows (rule, fitted on, floor, keystrokes saved, fully correct) for one language."""
    validation = validation_texts(corpus, language)
    half = len(validation) // 2
    tested = survey(model, list(take_characters(validation[half:], chars)), progress)
    fitted_on = {
        "training split": training_texts(corpus, language, chars),
        "validation half": list(take_characters(validation[:half], chars)),
    }
    rows = []
    for floor in FLOORS:
        rows.append(("product (engine)", "-", floor,
                     *replay(tested, product_rule, floor, best_saving=False)))
    for source, texts in fitted_on.items():
        rules = fit_rules(survey(model, texts, progress))
        for name, estimate in rules.items():
            for floor in FLOORS:
                for best in (False, True):
                    rule = f"{name}, {'best saving' if best else 'longest'}"
                    rows.append((rule, source, floor, *replay(tested, estimate, floor, best)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.stop_study",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", default="ttcc/models", help="NAME.ttc per language")
    parser.add_argument("--corpus", default="data/corpus")
    parser.add_argument("--languages", default="python,go,rust",
                        help="comma-separated, or 'all' (default python,go,rust)")
    parser.add_argument("--chars", type=int, default=10_000,
                        help="characters typed to fit each rule and to test (default 10000)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    languages = (list(LANGUAGES) if args.languages == "all"
                 else [name.strip() for name in args.languages.split(",")])
    print("| language | rule | fitted on | floor | keystrokes saved | fully correct |")
    print("|---|---|---|---|---|---|")
    try:
        for language in languages:
            model = Model.load(Path(args.models_dir) / f"{language}.ttc")
            for rule, source, floor, saved, correct in study_language(
                    model, Path(args.corpus), language, args.chars, not args.no_progress):
                print(f"| {language} | {rule} | {source} | {floor} | {100 * saved:.1f} % "
                      f"| {100 * correct:.1f} % |", flush=True)
    except (OSError, ModelError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
