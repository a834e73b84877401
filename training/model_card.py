"""Write ttcc/models/MODEL_CARD.md from the evaluation's JSON: no figure typed by hand.

    python -m training.evaluate --models-dir ttcc/models --samples ttcc/models/samples \\
        --json ttcc/models/evaluation.json
    python -m training.model_card ttcc/models/evaluation.json \\
        --study training/size_study/study.json --adapt-study training/adapt_study/adapt_study.json

The bars the shipped models are held to: bits/char at most 0.8 x xz -9e, keystrokes
saved at least 20 %, at least half of the shown suggestions fully correct.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from training import adapt_study
from training.evaluate import percent
from training.plot import mean_over_languages

BITS_VS_XZ_BAR = 0.8
KEYSTROKES_SAVED_BAR = 0.20
FULLY_CORRECT_BAR = 0.50


def _mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


def results_table(languages: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "| language | model | bits/char | xz -9e | ratio (bar ≤ 0.8) | keystrokes saved "
        "(bar ≥ 20 %) | word by word | fully correct (bar ≥ 50 %) | completed | next line "
        "| mean length | latency median / p90 (ms) | in brackets: saved | fully correct "
        "| unbalanced |",
        "|" + "---|" * 15,
    ]
    for name, r in languages.items():
        lines.append(
            f"| {name} | `{r['model']}` | {r['bits_per_char']:.3f} | {r['xz_bits_per_char']:.3f} "
            f"| {r['bits_vs_xz']:.2f} {_mark(r['bits_vs_xz'] <= BITS_VS_XZ_BAR)} "
            f"| {100 * r['keystrokes_saved']:.1f} % "
            f"{_mark(r['keystrokes_saved'] >= KEYSTROKES_SAVED_BAR)} "
            f"| {percent(r.get('keystrokes_saved_word_by_word'))} "
            f"| {100 * r['fully_correct_share']:.1f} % "
            f"{_mark(r['fully_correct_share'] >= FULLY_CORRECT_BAR)} "
            f"| {percent(r.get('completed_share'))} | {percent(r.get('next_line_exact_match'))} "
            f"| {r['mean_suggestion_length']:.1f} "
            f"| {r['latency_ms_median']:.2f} / {r['latency_ms_p90']:.2f} "
            f"| {percent(r.get('brackets_keystrokes_saved'))} "
            f"| {percent(r.get('brackets_fully_correct_share'))} "
            f"| {percent(r.get('brackets_unbalanced_share'))} |"
        )
    return lines


def misses(languages: dict[str, dict[str, Any]]) -> list[str]:
    """One line per language and bar that it misses, with by how much."""
    lines = []
    for name, r in languages.items():
        if r["bits_vs_xz"] > BITS_VS_XZ_BAR:
            lines.append(f"- {name}: bits/char is {r['bits_vs_xz']:.2f} x xz, bar "
                         f"{BITS_VS_XZ_BAR} ({r['bits_vs_xz'] / BITS_VS_XZ_BAR - 1:+.0%})")
        if r["keystrokes_saved"] < KEYSTROKES_SAVED_BAR:
            lines.append(f"- {name}: keystrokes saved {100 * r['keystrokes_saved']:.1f} %, "
                         f"bar {100 * KEYSTROKES_SAVED_BAR:.0f} %")
        if r["fully_correct_share"] < FULLY_CORRECT_BAR:
            lines.append(f"- {name}: fully correct {100 * r['fully_correct_share']:.1f} %, "
                         f"bar {100 * FULLY_CORRECT_BAR:.0f} %")
    return lines or ["- none: every language meets every bar."]


def memory_table(with_memory: dict[str, dict[str, Any]],
                 without: dict[str, dict[str, Any]]) -> list[str]:
    """The document memory's effect per language, against the targets it was built for:
    25 % fewer bits/char, 1.4x the keystrokes saved, latency up < 10 %."""
    if not without:
        return ["(the evaluation ran one memory mode only)"]
    lines = [
        "| language | bits/char off → on | fewer bits (target ≥ 25 %) | keystrokes saved off → on "
        "| ratio (target ≥ 1.4x) | fully correct off → on | latency median off → on (ms) "
        "| latency change (target < +10 %) |",
        "|" + "---|" * 8,
    ]
    for name, on in with_memory.items():
        off = without.get(name)
        if off is None:
            continue
        fewer = 1 - on["bits_per_char"] / off["bits_per_char"]
        ratio = on["keystrokes_saved"] / max(off["keystrokes_saved"], 1e-9)
        latency = on["latency_ms_median"] / max(off["latency_ms_median"], 1e-9) - 1
        lines.append(
            f"| {name} | {off['bits_per_char']:.3f} → {on['bits_per_char']:.3f} "
            f"| {100 * fewer:.1f} % {_mark(fewer >= 0.25)} "
            f"| {100 * off['keystrokes_saved']:.1f} % → {100 * on['keystrokes_saved']:.1f} % "
            f"| {ratio:.2f}x {_mark(ratio >= 1.4)} "
            f"| {100 * off['fully_correct_share']:.1f} % → {100 * on['fully_correct_share']:.1f} % "
            f"| {off['latency_ms_median']:.2f} → {on['latency_ms_median']:.2f} "
            f"| {100 * latency:+.1f} % {_mark(latency < 0.10)} |"
        )
    return lines


def models_table(models: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "| file | parameters | size (KB) | layers × dim | heads / kv heads | FFN | window "
        "| tokens seen | training | hardware |",
        "|" + "---|" * 10,
    ]
    for name, m in sorted(models.items()):
        info, meta = m["info"], m["metadata"]
        lines.append(
            f"| `{name}` | {info['parameters'] / 1e6:.2f}M | {info['file_size'] / 1024:.0f} "
            f"| {info['n_layers']} × {info['dim']} | {info['n_heads']} / {info['n_kv_heads']} "
            f"| {info['hidden_dim']} | {info['window']} "
            f"| {meta.get('training_tokens', 0) / 1e6:.1f}M "
            f"| {meta.get('training_minutes', '?')} min | {meta.get('hardware', '?')} |"
        )
    return lines


def corpus_table(corpus: dict[str, Any] | None) -> list[str]:
    if not corpus:
        return ["(the evaluation did not record the corpus summary)"]
    lines = [
        "| language | sources (pinned) | files | MB | training tokens | validation files |",
        "|" + "---|" * 6,
    ]
    for name, c in corpus["languages"].items():
        sources = ", ".join(
            f"{s.get('package') or s['name']} {s.get('version', '')}".strip()
            for s in c["sources"]
        )
        lines.append(
            f"| {name} | {sources} | {c['files']} | {c['bytes'] / 1e6:.1f} "
            f"| {c['train_tokens'] / 1e6:.1f}M | {c['val_files']} |"
        )
    return lines


def study_section(study: list[dict[str, Any]] | None, plot: str) -> list[str]:
    if not study:
        return ["(no study given)"]
    lines = [
        "| point | parameters | tokens trained | bits/char | keystrokes saved | "
        "fully correct | latency median (ms) |",
        "|" + "---|" * 7,
    ]
    for r in study:
        lines.append(
            f"| {r['name']} | {r['parameters'] / 1e6:.2f}M | {r['training_tokens'] / 1e6:.1f}M "
            f"| {mean_over_languages(r, 'bits_per_char'):.3f} "
            f"| {100 * mean_over_languages(r, 'keystrokes_saved'):.1f} % "
            f"| {100 * mean_over_languages(r, 'fully_correct_share'):.1f} % "
            f"| {mean_over_languages(r, 'latency_ms_median'):.2f} |"
        )
    return [*lines, "", f"![quality against size]({plot})"]


def adaptation_section(results: list[dict[str, Any]] | None) -> list[str]:
    if not results:
        return ["(not measured: pass --adapt-study)"]
    return [
        "`python -m training.adapt_study` adapts each shipped model with `python -m "
        "training.adapt`'s defaults (5 minutes, 2 cores) to pinned registry packages that no "
        "model was trained on, and measures shipped → adapted on each project's held-out "
        "files, memory on in both. A model that does worse on any measure there is not "
        "kept (\"kept\": no): the user keeps the shipped model.",
        "",
        adapt_study.HEADER,
        *map(adapt_study.row, results),
        "",
        adapt_study.summary(results) + " (what users get: the shipped model where it was "
        "not kept).",
    ]


def render(evaluation: dict[str, Any], study: list[dict[str, Any]] | None,
           study_plot: str, source: str,
           adaptation: list[dict[str, Any]] | None = None) -> str:
    languages = evaluation["languages"]
    return "\n".join([
        "# Model card",
        "",
        f"Generated by `python -m training.model_card {source}` from the evaluation's "
        "JSON; rerun `training.evaluate` (command in that module) to measure again.",
        "",
        "## Results per language (validation files, through the engine)",
        "",
        f"Options: {json.dumps(evaluation['options'])} (the server's defaults, document memory "
        "on). Bits/char on "
        f"up to {evaluation['score_chars']:,} characters per language, `xz -9e` on the same "
        f"text; keystrokes saved on up to {evaluation['typing_chars']:,} characters typed "
        "(a whole suggestion accepted with one key when it is exactly what follows). *Word by "
        "word*: keystrokes saved by a user who also accepts the correct words at the start of a "
        "wrong suggestion, one key per word. *Completed*: the share of the typed characters that "
        "accepted suggestions inserted. *Next line*: the share of non-blank lines whose "
        "start got the whole line as its suggestion. *In brackets*: typing the inside of every "
        "bracket pair of balanced lines with the closing bracket already there, as editors "
        "insert it: keystrokes saved, fully correct, and the share of shown suggestions that "
        "would leave the line unbalanced. (– where the evaluation predates a measure.)",
        "",
        *results_table(languages),
        "",
        "Bars missed:",
        "",
        *misses(languages),
        "",
        "## Document memory (on against off, same models and files)",
        "",
        *memory_table(languages, evaluation.get("other_memory_mode") or {}),
        "",
        "What bounds these gains: \"What bounds the document memory\" in docs/RESULTS.md "
        "(`python -m training.memory_bounds`).",
        "",
        "## Models",
        "",
        *models_table(evaluation["models"]),
        "",
        "## Training data",
        "",
        *corpus_table(evaluation.get("corpus")),
        "",
        "## Size study",
        "",
        *study_section(study, study_plot),
        "",
        "## Adapted to a project",
        "",
        *adaptation_section(adaptation),
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.model_card",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("evaluation", help="JSON written by training.evaluate --json")
    parser.add_argument("--study", help="study.json written by training.study")
    parser.add_argument("--adapt-study", help="JSON written by training.adapt_study --json")
    parser.add_argument("--out", default="ttcc/models/MODEL_CARD.md")
    args = parser.parse_args(argv)
    try:
        evaluation = json.loads(Path(args.evaluation).read_text())
        study = json.loads(Path(args.study).read_text()) if args.study else None
        adaptation = (json.loads(Path(args.adapt_study).read_text()) if args.adapt_study
                      else None)  # fmt: skip
    except (OSError, json.JSONDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    plot = ""
    if args.study:
        plot = os.path.relpath(Path(args.study).with_suffix(".png"), out.parent)
    out.write_text(render(evaluation, study, plot, args.evaluation, adaptation))
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
