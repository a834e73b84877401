"""The size study: which model is best for a fixed training budget on this machine?

    python -m training.study --minutes 5 --out runs/study

Every point (size, context window, key/value heads) gets the same compute: its
steps are set from its own measured training speed so that it would train for
`--minutes` on an idle machine; the runs themselves count steps, not seconds, so a
busy machine makes the study slower, not unfair. Each point is then exported and
measured through the engine (training.evaluate): validation bits/char and
keystrokes saved on a few languages, keystroke latency, file size. Writes
`study.md` (the table), `study.json` and `study.png` (quality against size).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from training import data
from training.evaluate import default_options, evaluate_language, validation_texts
from training.model import PRESETS, ModelConfig, Transformer
from training.plot import mean_over_languages, plot_study
from training.train import EXPORTED, TrainConfig, autocast, train
from ttcc.engine import Model


@dataclass(frozen=True)
class Point:
    preset: str
    window: int
    n_kv_heads: int = 0  # 0 = as many as query heads

    @property
    def name(self) -> str:
        kv = f"-kv{self.n_kv_heads}" if self.n_kv_heads else ""
        return f"{self.preset}-w{self.window}{kv}"

    @property
    def config(self) -> ModelConfig:
        return dataclasses.replace(PRESETS[self.preset], window=self.window,
                                   n_kv_heads=self.n_kv_heads or None)


POINTS = (
    Point("micro", 512),
    Point("small", 512),
    Point("medium", 512),
    Point("seed", 512),
    Point("small", 256),
    Point("small", 1024),
    Point("small", 512, n_kv_heads=2),
)


def measure_speed(point: Point, batch_size: int, steps: int = 3) -> float:
    """Training tokens per second of this point (random tokens, bf16, one process)."""
    model = Transformer(point.config)
    optimizer = torch.optim.AdamW(model.parameters())
    tokens = torch.randint(9, 127, (batch_size, point.window))
    cfg = TrainConfig()
    timings = []
    for _ in range(steps + 1):
        started = time.perf_counter()
        with autocast(cfg, torch.device("cpu")):
            _, loss = model(tokens, tokens)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        timings.append(time.perf_counter() - started)
    return batch_size * point.window / min(timings[1:])


def run_point(point: Point, args: argparse.Namespace, tokens_per_second: float) -> dict:
    batch_size = max(1, args.batch_tokens // point.window)
    steps = max(20, int(args.minutes * 60 * tokens_per_second / (batch_size * point.window)))
    out = Path(args.out) / point.name
    cfg = TrainConfig(
        corpus=args.corpus, out=str(out), preset=point.preset, window=point.window,
        n_kv_heads=point.n_kv_heads, steps=steps, batch_size=batch_size,
        warmup_steps=min(100, steps // 10), eval_interval=max(1, steps // 4),
        resume=(out / "checkpoint.pt").is_file(),
    )
    started = time.perf_counter()
    train(cfg)
    train_minutes = (time.perf_counter() - started) / 60
    model_path = out / EXPORTED
    model = Model.load(model_path)
    languages = {}
    for language in args.languages.split(","):
        report = evaluate_language(
            model, point.name, language, validation_texts(Path(args.corpus), language),
            args.score_chars, args.typing_chars, default_options(), progress=False,
        )
        languages[language] = dataclasses.asdict(report)
    return {
        "point": dataclasses.asdict(point),
        "name": point.name,
        "parameters": Transformer(point.config).num_parameters(),
        "file_bytes": model_path.stat().st_size,
        "steps": steps,
        "training_tokens": steps * batch_size * point.window,
        "measured_tokens_per_second": tokens_per_second,
        "train_minutes": train_minutes,
        "languages": languages,
    }


def summary_table(results: list[dict]) -> str:
    lines = [
        "| point | parameters | file (KB) | tokens trained | bits/char | keystrokes saved "
        "| fully correct | latency median (ms) |",
        "|" + "---|" * 8,
    ]
    for r in results:
        def mean(key: str, r: dict = r) -> float:
            return mean_over_languages(r, key)

        lines.append(
            f"| {r['name']} | {r['parameters'] / 1e6:.2f}M | {r['file_bytes'] / 1024:.0f} "
            f"| {r['training_tokens'] / 1e6:.1f}M | {mean('bits_per_char'):.3f} "
            f"| {100 * mean('keystrokes_saved'):.1f} % | {100 * mean('fully_correct_share'):.1f} % "
            f"| {mean('latency_ms_median'):.2f} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.study",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="data/corpus")
    parser.add_argument("--out", default="runs/study")
    parser.add_argument("--minutes", type=float, default=5.0,
                        help="training budget per point on an idle machine (default 5)")
    parser.add_argument("--batch-tokens", type=int, default=8192,
                        help="tokens per optimizer step; batch = this / window (default 8192)")
    parser.add_argument("--points", default="all",
                        help="comma-separated point names, or 'all': "
                        + ", ".join(p.name for p in POINTS))
    parser.add_argument("--languages", default="python,javascript,c",
                        help="languages measured (default python,javascript,c)")
    parser.add_argument("--score-chars", type=int, default=60_000)
    parser.add_argument("--typing-chars", type=int, default=6_000)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    points = [p for p in POINTS if args.points == "all" or p.name in args.points.split(",")]
    if not points:
        print(f"error: no such points: {args.points}", file=sys.stderr)
        return 2
    try:
        data.corpus_languages(args.corpus)
    except data.DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    speeds = {}
    for point in points:
        speeds[point] = measure_speed(point, max(1, args.batch_tokens // point.window))
        print(f"{point.name}: {speeds[point]:,.0f} training tokens/s", file=sys.stderr)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for point in points:
        results.append(run_point(point, args, speeds[point]))
        (out / "study.json").write_text(json.dumps(results, indent=2) + "\n")  # so far
    table = summary_table(results)
    print(table)
    (out / "study.md").write_text(
        f"Training budget per point: {args.minutes:g} minutes of this machine's measured speed; "
        f"measured on {args.languages} validation files.\n\n{table}\n"
    )
    plot_study(results, out / "study.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
