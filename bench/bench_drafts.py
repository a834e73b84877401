"""Drafted decoding against one token a pass, side by side in one run (single thread).

    python bench/bench_drafts.py [--languages python,go] [--repeats N] [--drafts K]

A session may check up to k drafted tokens a pass (ttc_session_options.draft_tokens:
the greedy token and what followed it where the document memory last saw the same
text); suggestions are the same for every k, only the time differs. Printed:

1. what a pass of k tokens costs against one token, at the end of a shipped model's
   window and at position 2000 of a randomly initialised seed-size model;
2. per keystroke, mean and 90th percentile, with k = 1 and k = K (default 4, what the
   AVX-512 VNNI kernels choose when a session leaves it to them): each shipped model
   typing its sample file (ttcc/models/samples) character by character at the end, at
   the server's defaults; and the seed-size model typing at the end of a ~2000-character
   document (its random weights seldom agree with the memory: drafts mostly rejected).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_engine import cpu_name, document, export_seed_model  # noqa: E402
from ttcc import shipped_models_dir  # noqa: E402
from ttcc.engine import Model  # noqa: E402
from ttcc.languages import LANGUAGES  # noqa: E402


def pass_seconds(model: Model, position: int, k: int, repeats: int) -> float:
    """Fastest time of one pass of k new tokens at positions position..position+k-1."""
    tokens = [2, *map(ord, document(position + k - 1))]
    session = model.session()
    best = float("inf")
    for i in range(repeats):
        session.logits(tokens[:position], rows=1)
        tokens[position] = ord("xy"[i % 2])  # a new token there: the k tokens run again
        start = time.perf_counter()
        session.logits(tokens, rows=1)
        best = min(best, time.perf_counter() - start)
    return best


def typing_times(model: Model, text: str, start: int, drafts: int, max_chars: int | None = None,
                 min_confidence: float | None = None) -> tuple[list[float], list[float]]:
    """Seconds per keystroke typing text[start:] at the end, each followed by a
    suggestion, one token a pass and with drafts: the two sessions take turns at each
    keystroke, so that a busier moment of the machine falls on both."""
    options = {key: value for key, value in (("max_chars", max_chars),
                                             ("min_confidence", min_confidence))
               if value is not None}  # fmt: skip
    sessions = (model.session(draft_tokens=1), model.session(draft_tokens=drafts))
    times: tuple[list[float], list[float]] = ([], [])
    for session in sessions:
        session.complete(text[:start], **options)
    for end in range(start + 1, len(text) + 1):
        for which in (0, 1) if end % 2 else (1, 0):
            began = time.perf_counter()
            sessions[which].complete(text[:end], **options)
            times[which].append(time.perf_counter() - began)
    return times


def row(name: str, plain: list[float], drafted: list[float]) -> str:
    def figures(times: list[float]) -> tuple[float, float]:
        return 1000 * statistics.fmean(times), 1000 * sorted(times)[int(0.9 * (len(times) - 1))]

    (mean_1, p90_1), (mean_k, p90_k) = figures(plain), figures(drafted)
    return (f"| {name} | {len(plain)} | {mean_1:.3f} | {mean_k:.3f} | {mean_1 / mean_k:.2f}x "
            f"| {p90_1:.3f} | {p90_k:.3f} | {p90_1 / p90_k:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--languages", default=",".join(LANGUAGES))
    parser.add_argument("--repeats", type=int, default=30, help="samples per pass timing")
    parser.add_argument("--drafts", type=int, default=4, help="k of the drafted sessions")
    args = parser.parse_args()
    print(f"{cpu_name()}, single thread\n")
    with tempfile.TemporaryDirectory() as scratch:
        seed = Model.load(export_seed_model(Path(scratch)))
    shipped = Model.load(shipped_models_dir() / "python.ttc")

    print("| one pass of k tokens | k = 1 | k = 2 | k = 4 | k = 8 | k = 8 / k = 1 |")
    print("|---|---|---|---|---|---|")
    for name, model, position in (("python.ttc at 200", shipped, 200),
                                  ("seed-size at 2000", seed, 2000)):
        seconds = [pass_seconds(model, position, k, args.repeats) for k in (1, 2, 4, 8)]
        print(f"| {name} | " + " | ".join(f"{1000 * s:.3f} ms" for s in seconds)
              + f" | {seconds[-1] / seconds[0]:.1f}x |")

    print(f"\n| typing, ms per keystroke | keystrokes | mean k = 1 | mean k = {args.drafts} "
          f"| ratio | p90 k = 1 | p90 k = {args.drafts} | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for language in args.languages.split(","):
        model = Model.load(shipped_models_dir() / f"{language}.ttc")
        (sample,) = (shipped_models_dir() / "samples").glob(f"{language}.*")
        text = sample.read_text()
        plain, drafted = typing_times(model, text, 100, args.drafts)
        print(row(f"{language}.ttc, its sample", plain, drafted), flush=True)
    text = document(2040)  # the window is 2048 tokens
    plain, drafted = typing_times(seed, text, 1960, args.drafts, max_chars=32,
                                  min_confidence=0.0)
    print(row("seed-size at ~2000, 32 characters", plain, drafted))


if __name__ == "__main__":
    main()
