"""The document memory's cost per keystroke, side by side in one run (single thread).

    python bench/bench_memory.py [--model PATH] [--repeats N]

Types characters at the end of documents of 2 KB to 1 MB, and in the middle of a
1 MB document (half of it after the cursor), with the document memory on and off,
the two interleaved keystroke by keystroke. Per-keystroke time should stay flat as
the document grows: the memory re-reads only what changed (one memcmp over the
document finds it). Without --model it uses a randomly initialised seed-size model.
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

from bench.bench_engine import SUGGESTION_CHARS, document, export_seed_model  # noqa: E402
from ttcc.engine import Model  # noqa: E402

SIZES = (2_000, 100_000, 1_000_000)


def keystrokes(model: Model, prefix: str, suffix: str, repeats: int) -> dict[bool, list[float]]:
    """Seconds per typed character, memory on and off, interleaved. Both type the same
    characters, each one that neither suggested (typing a suggestion would be free)."""
    sessions = {memory: model.session() for memory in (True, False)}
    suggestions = {}
    for memory, session in sessions.items():  # the first request reads the whole document
        suggestions[memory] = session.complete(prefix, suffix, max_chars=SUGGESTION_CHARS,
                                               min_confidence=0.0, document_memory=memory)
    times: dict[bool, list[float]] = {True: [], False: []}
    text = prefix
    for _ in range(repeats):
        text += next(c for c in "zqx" if c not in (s[:1] for s in suggestions.values()))
        for memory, session in sessions.items():
            start = time.perf_counter()
            suggestions[memory] = session.complete(text, suffix, max_chars=SUGGESTION_CHARS,
                                                   min_confidence=0.0, document_memory=memory)
            times[memory].append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model file (default: random seed-size)")
    parser.add_argument("--repeats", type=int, default=40, help="keystrokes per case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        model = Model.load(args.model or export_seed_model(Path(directory)))

    cases = [(f"end of a {size:,}-character document", document(size), "") for size in SIZES]
    middle = document(SIZES[-1])
    cases.append(("middle of a 1,000,000-character document", middle[: len(middle) // 2],
                  middle[len(middle) // 2 :]))
    print(f"model: {model.info.parameters:,} parameters, window {model.info.window}; "
          f"median of {args.repeats} keystrokes\n")
    print("| typing at the | memory off (ms) | memory on (ms) | on / off |")
    print("|---|---|---|---|")
    for name, prefix, suffix in cases:
        times = keystrokes(model, prefix, suffix, args.repeats)
        off, on = (1000 * statistics.median(times[m]) for m in (False, True))
        print(f"| {name} | {off:.2f} | {on:.2f} | {on / off:.2f}x |")


if __name__ == "__main__":
    main()
