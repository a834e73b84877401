"""Time per keystroke: drafted decoding and the engine's idle work, against one token a
pass, side by side in one run (single thread).

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
   Beside them, the ceiling: the ratio if every draft were right (see ceiling()), and the
   share of the k = 1 session's time spent in keystrokes that re-read the window after
   it moved (batched prefill: drafts cannot shorten it);
3. the same typing by a third session with drafts of K that also does the engine's idle
   work between keystrokes (Session.prepare until it has nothing left, as the server and
   the demo's worker do while idle: running ahead of the window's moves, so that no
   keystroke re-reads the window, and the suggestions after the likeliest next
   characters): per keystroke mean, 90th and 99th percentile and the slowest against
   k = 1, the share of the keystrokes that ran a suggestion in the plain session which a
   guess of the idle work served (ran nothing), and the idle work per keystroke (not
   counted in its keystroke times); plus the seed-size model typing across a move of
   its window (~1,500 tokens re-read without running ahead).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_engine import cpu_name, document, export_seed_model, percentile  # noqa: E402
from ttcc import shipped_models_dir  # noqa: E402
from ttcc.engine import DEFAULT_OPTIONS, Model  # noqa: E402
from ttcc.languages import LANGUAGES  # noqa: E402


def pass_seconds(model: Model, position: int, k: int, repeats: int) -> list[float]:
    """Times of one pass of k new tokens at positions position..position+k-1."""
    tokens = [2, *map(ord, document(position + k - 1))]
    session = model.session()
    times = []
    for i in range(repeats):
        session.logits(tokens[:position], rows=1)
        tokens[position] = ord("xy"[i % 2])  # a new token there: the k tokens run again
        start = time.perf_counter()
        session.logits(tokens, rows=1)
        times.append(time.perf_counter() - start)
    return times


@dataclass
class Typed:
    max_chars: int  # the longest suggestion asked for
    plain: list[float] = field(default_factory=list)  # s per keystroke, one token a pass
    drafted: list[float] = field(default_factory=list)  # s per keystroke, drafts of k
    idling: list[float] = field(default_factory=list)  # drafts of k, idle work between
    idle: list[float] = field(default_factory=list)  # s of idle work after each keystroke
    forwarded: list[int] = field(default_factory=list)  # tokens the plain session ran
    idling_forwarded: list[int] = field(default_factory=list)  # and the idling one

    def guessed(self) -> float:
        """The share of the plain session's decoding keystrokes (not re-reads) that ran
        nothing in the idling session."""
        decoding = [idling == 0 for plain, idling
                    in zip(self.forwarded, self.idling_forwarded, strict=True)
                    if plain > 0 and not self.reread(plain)]  # fmt: skip
        return sum(decoding) / max(1, len(decoding))

    def reread(self, forwarded: int) -> bool:
        """A keystroke runs at most its character, a suggestion and the token that ends
        it; one that ran more re-read its window after the window moved (in batches)."""
        return forwarded > self.max_chars + 2


def typing_times(model: Model, text: str, start: int, drafts: int, max_chars: int,
                 min_confidence: float | None = None) -> Typed:
    """Seconds per keystroke typing text[start:] at the end, each followed by a
    suggestion: one token a pass, with drafts, and with drafts and idle work after each
    keystroke. The sessions take turns at each keystroke, in an order that rotates,
    so that a busier moment of the machine falls on all."""
    options = {"max_chars": max_chars}
    if min_confidence is not None:
        options["min_confidence"] = min_confidence
    sessions = [model.session(draft_tokens=k) for k in (1, drafts, drafts)]
    typed = Typed(max_chars)
    for session in sessions:
        session.complete(text[:start], **options)
    for end in range(start + 1, len(text) + 1):
        forwarded = sessions[0].forwarded_tokens, sessions[2].forwarded_tokens
        for turn in range(3):
            which = (end + turn) % 3
            began = time.perf_counter()
            sessions[which].complete(text[:end], **options)
            (typed.plain, typed.drafted, typed.idling)[which].append(time.perf_counter() - began)
        typed.forwarded.append(sessions[0].forwarded_tokens - forwarded[0])
        typed.idling_forwarded.append(sessions[2].forwarded_tokens - forwarded[1])
        began = time.perf_counter()
        while sessions[2].prepare(text[:end], **options):
            pass
        typed.idle.append(time.perf_counter() - began)
    return typed


def ceiling(typed: Typed, k_over_one: float, k: int) -> list[float]:
    """Seconds per keystroke if every draft were right: the tokens the plain session ran
    a pass for, verified k at a time, each pass of k costing k_over_one single passes, the
    rest as measured. A single pass costs what the typing itself says: the slope of the
    plain session's keystroke times against the tokens they ran (least squares).
    A keystroke that re-read the window, in batches drafts leave as they are, is given as
    many passes as the most any other keystroke ran."""
    decoding = [(n, seconds) for n, seconds in zip(typed.forwarded, typed.plain, strict=True)
                if not typed.reread(n)]  # fmt: skip
    tokens, seconds = zip(*decoding, strict=True)
    one_token = statistics.linear_regression(tokens, seconds).slope
    most = max(tokens)
    ideal = []
    for spent, forwarded in zip(typed.plain, typed.forwarded, strict=True):
        passes = most if typed.reread(forwarded) else forwarded
        ideal.append(spent - (passes - math.ceil(passes / k) * k_over_one) * one_token)
    return ideal


def mean_and_p90(times: list[float]) -> tuple[float, float]:
    return statistics.fmean(times), percentile(times, 0.9)


def idling_row(name: str, typed: Typed) -> str:
    """Idle work against one token a pass: mean, p90, p99, slowest, the share of guesses
    that served, and the idle work."""
    cells = []
    for measure in (statistics.fmean, lambda t: percentile(t, 0.9),
                    lambda t: percentile(t, 0.99), max):
        plain, idling = measure(typed.plain), measure(typed.idling)
        cells.append(f"{1000 * plain:.3f} | {1000 * idling:.3f} | {plain / idling:.2f}x")
    return (f"| {name} | {len(typed.plain)} | " + " | ".join(cells) + f" | {typed.guessed():.0%}"
            + f" | {1000 * statistics.fmean(typed.idle):.3f} |")


def row(name: str, typed: Typed, ideal: list[float]) -> str:
    (mean_1, p90_1), (mean_k, p90_k) = mean_and_p90(typed.plain), mean_and_p90(typed.drafted)
    mean_best, p90_best = mean_and_p90(ideal)
    rereading = sum(seconds for seconds, n in zip(typed.plain, typed.forwarded, strict=True)
                    if typed.reread(n))  # fmt: skip
    return (f"| {name} | {len(typed.plain)} | {1000 * mean_1:.3f} | {1000 * mean_k:.3f} "
            f"| {mean_1 / mean_k:.2f}x | {mean_1 / mean_best:.2f}x | {1000 * p90_1:.3f} "
            f"| {1000 * p90_k:.3f} | {p90_1 / p90_k:.2f}x | {p90_1 / p90_best:.2f}x "
            f"| {rereading / sum(typed.plain):.0%} |")


def typing_rows(name: str, model: Model, text: str, start: int, position: int, k: int,
                repeats: int, max_chars: int, min_confidence: float | None = None
                ) -> tuple[str, str]:  # fmt: skip
    """The drafts table's row and the idle work's."""
    typed = typing_times(model, text, start, k, max_chars, min_confidence)
    k_over_one = min(pass_seconds(model, position, k, repeats)) / min(
        pass_seconds(model, position, 1, repeats))
    return row(name, typed, ceiling(typed, k_over_one, k)), idling_row(name, typed)


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

    print("| one pass of k tokens, fastest | k = 1 | k = 2 | k = 4 | k = 8 | k = 8 / k = 1 |")
    print("|---|---|---|---|---|---|")
    for name, model, position in (("python.ttc at 200", shipped, 200),
                                  ("seed-size at 2000", seed, 2000)):
        seconds = [min(pass_seconds(model, position, k, args.repeats)) for k in (1, 2, 4, 8)]
        print(f"| {name} | " + " | ".join(f"{1000 * s:.3f} ms" for s in seconds)
              + f" | {seconds[-1] / seconds[0]:.1f}x |")

    k = args.drafts
    print(f"\n| typing, ms per keystroke | keystrokes | mean k = 1 | mean k = {k} | ratio "
          f"| ceiling | p90 k = 1 | p90 k = {k} | ratio | ceiling | re-reading the window |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    idling_rows = []
    for language in args.languages.split(","):
        model = Model.load(shipped_models_dir() / f"{language}.ttc")
        (sample,) = (shipped_models_dir() / "samples").glob(f"{language}.*")
        rows = typing_rows(f"{language}.ttc, its sample", model, sample.read_text(), 100, 200,
                           k, args.repeats, DEFAULT_OPTIONS["max_chars"])
        print(rows[0], flush=True)
        idling_rows.append(rows[1])
    # The window is 2048 tokens: ~2000 characters stay inside one of its placements, and
    # 2150..2330 cross a move of its start (at 2304, 256 characters being kept for a
    # suggestion).
    for name, text, start in (("seed-size at ~2000, 32 characters", document(2040), 1960),
                              ("seed-size across a move, 32 characters", document(2330), 2150)):
        rows = typing_rows(name, seed, text, start, 2000, k, args.repeats, 32, min_confidence=0.0)
        print(rows[0], flush=True)
        idling_rows.append(rows[1])

    print(f"\n| typing, ms per keystroke | keystrokes | mean k = 1 | mean k = {k} + idle | ratio "
          f"| p90 k = 1 | p90 k = {k} + idle | ratio | p99 k = 1 | p99 k = {k} + idle | ratio "
          f"| slowest k = 1 | slowest k = {k} + idle | ratio | suggestions a guess served "
          f"| idle work, ms per keystroke |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(idling_rows))


if __name__ == "__main__":
    main()
