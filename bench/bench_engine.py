"""Engine speed, measured side by side in one run (single thread).

    python bench/bench_engine.py [--model PATH] [--repeats N]

Without --model it exports a randomly initialised seed-size model (dim 288,
6 layers, window 2048): speed does not depend on the weights. Three paths of
the same engine are timed:

  naive    scalar kernels, one token per forward pass, fp32 KV cache (llama2.c's way)
  generic  scalar kernels, batched prefill, int8 KV cache
  fast     the best SIMD kernels of this CPU, batched prefill, int8 KV cache

and the table gives each one's figures and the fast path's ratio to naive.
It ends with the accuracy cost of the int8 KV cache against the fp32 one.
"""

from __future__ import annotations

import argparse
import math
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ttcc.engine import Model, Session  # noqa: E402

SUGGESTION_CHARS = 32
CODE = (
    "def merge(left, right):\n    result = []\n    while left and right:\n"
    "        if left[0] <= right[0]:\n            result.append(left.pop(0))\n"
    "        else:\n            result.append(right.pop(0))\n    return result + left + right\n"
)


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def document(length: int) -> str:
    return (CODE * (length // len(CODE) + 1))[:length]


def decode_rate(session: Session, position: int, repeats: int) -> float:
    """Tokens/s of single-token forward passes at KV-cache position `position`.

    Changing the last of position + 1 tokens rewinds and reruns exactly that token;
    the time of passing the tokens in (the same call again, all cached) is
    measured right after and subtracted."""
    ids = [2, *map(ord, document(position))]
    session.logits(ids, rows=1)
    seconds = 0.0
    for i in range(repeats):
        ids[-1] = ord("xy"[i % 2])
        before = session.forwarded_tokens
        start = time.perf_counter()
        session.logits(ids, rows=1)
        middle = time.perf_counter()
        session.logits(ids, rows=1)
        seconds += (middle - start) - (time.perf_counter() - middle)
        assert session.forwarded_tokens - before == 1
    return repeats / seconds


def prefill_seconds(session: Session, n_tokens: int, repeats: int) -> float:
    """Median time to run n_tokens from scratch (the first token differs each time)."""
    rng = random.Random(0)
    body = [rng.randrange(32, 127) for _ in range(n_tokens - 1)]
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        session.logits([2 + (i % 2) * 8, *body])  # BOS or a newline first
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def percentile(values: list[float], share: float) -> float:
    """The value share of the way up the sorted values (no interpolation)."""
    return sorted(values)[int(share * (len(values) - 1))]


def keystroke_latency(session: Session, repeats: int, length: int = 2000
                      ) -> tuple[float, float]:
    """Median and 90th percentile of one typed character at the end of a document of
    `length` characters (growing by one a keystroke) plus a suggestion of up to 32
    characters."""
    text = document(length)
    suggestion = session.complete(text, max_chars=SUGGESTION_CHARS, min_confidence=0.0)
    times = []
    for _ in range(repeats):
        # A character other than the suggested one: typing the suggestion is free.
        text += "z" if suggestion[:1] != "z" else "q"
        start = time.perf_counter()
        suggestion = session.complete(text, max_chars=SUGGESTION_CHARS, min_confidence=0.0)
        times.append(time.perf_counter() - start)
    return statistics.median(times), percentile(times, 0.9)


def kv_cache_cost(model: Model) -> tuple[float, float]:
    """Mean |difference| of log-probabilities and mean KL(fp32 || int8), in nats,
    between the int8 and the fp32 KV cache over a 2000-character document."""
    text = document(2000)
    exact = model.session(kv_precision="f32").logits([2, *map(ord, text)])
    compact = model.session(kv_precision="int8").logits([2, *map(ord, text)])
    differences, divergences = [], []
    for row_exact, row_compact in zip(exact, compact, strict=True):
        log_p, log_q = log_softmax(row_exact), log_softmax(row_compact)
        differences.append(statistics.fmean(abs(a - b) for a, b in zip(log_p, log_q, strict=True)))
        divergences.append(sum(math.exp(a) * (a - b) for a, b in zip(log_p, log_q, strict=True)))
    return statistics.fmean(differences), statistics.fmean(divergences)


def log_softmax(row: list[float]) -> list[float]:
    top = max(row)
    total = math.log(sum(math.exp(x - top) for x in row)) + top
    return [x - total for x in row]


def export_seed_model(directory: Path, name: str = "seed-random.ttc") -> Path:
    """A randomly initialised seed-size model written to directory/name."""
    path = directory / name
    command = [
        sys.executable,
        "-m",
        "training.export",
        "--random",
        "--preset",
        "seed",
        "--out",
        str(path),
    ]
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model file (default: random seed-size)")
    parser.add_argument("--repeats", type=int, default=20, help="samples per fast measurement")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        model = Model.load(args.model or export_seed_model(Path(directory)))
    paths = {
        "naive": lambda: model.session(kernels="generic", max_batch=1, kv_precision="f32"),
        "generic": lambda: model.session(kernels="generic"),
        "fast": lambda: model.session(),
    }
    info = model.info
    print(
        f"model: dim {info.dim}, {info.n_layers} layers, {info.n_heads} heads, "
        f"hidden {info.hidden_dim}, window {info.window}, {info.parameters:,} parameters"
    )
    print(f"fast kernels: {paths['fast']().kernels}; single thread\n")

    rows: list[tuple[str, str, dict[str, float]]] = []
    for position in (256, 1024, 2000):
        figures = {}
        for name, make in paths.items():
            repeats = 10 * args.repeats if name == "fast" else args.repeats
            figures[name] = decode_rate(make(), position, repeats)
        rows.append((f"decode at position {position}", "tokens/s", figures))

    figures = {}
    for name, make in paths.items():
        seconds = prefill_seconds(make(), 2048, 3 if name == "fast" else 1)
        figures[name] = 2048 / seconds
    rows.append(("prefill of 2048 tokens", "tokens/s", figures))

    latency = {
        name: keystroke_latency(make(), args.repeats if name == "fast" else 3)
        for name, make in paths.items()
    }
    rows.append(
        (
            "keystroke latency, median",
            "ms",
            {name: 1000 * value[0] for name, value in latency.items()},
        )
    )
    rows.append(
        ("keystroke latency, p90", "ms", {name: 1000 * value[1] for name, value in latency.items()})
    )

    print(
        f"| {'measure':<28} | {'unit':<8} | {'naive':>9} | {'generic':>9} | {'fast':>9} "
        f"| fast vs naive |"
    )
    print(f"|{'-' * 30}|{'-' * 10}|{'-' * 11}|{'-' * 11}|{'-' * 11}|{'-' * 15}|")
    for measure, unit, values in rows:
        ratio = (
            values["fast"] / values["naive"]
            if unit == "tokens/s"
            else values["naive"] / values["fast"]
        )
        print(
            f"| {measure:<28} | {unit:<8} | {values['naive']:>9.1f} | {values['generic']:>9.1f} "
            f"| {values['fast']:>9.1f} | {ratio:>12.1f}x |"
        )

    difference, divergence = kv_cache_cost(model)
    print(
        f"\nint8 KV cache vs fp32 over 2000 tokens: mean |Δ log p| = {difference:.5f} nats, "
        f"mean KL = {divergence:.2e} nats/token"
    )


if __name__ == "__main__":
    main()
