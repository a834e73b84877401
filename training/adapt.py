"""Adapt a shipped model to one project's code, on this machine, in minutes.

    python -m training.adapt ~/src/project --language python
    python -m training.adapt . --language rust --minutes 3 --out rust-project.ttc

Starts from the shipped model of the language (the int8 .ttc, read back into PyTorch),
fine-tunes it on the project's files (training.project_files: a fifth of them held out)
with fill-in-the-middle examples in the mix, keeps the weights that did best on the
held-out files, refits the document memory's blend on them, and writes an int8 model
atomically. It prints bits/char and keystrokes saved on the held-out files before and
after (memory on in both), and keeps the shipped model, saying so, when adapting does
not help there. Ctrl-C stops training and goes on with the best weights so far.

The model goes to the user's cache (XDG_CACHE_HOME, else ~/.cache), under
ttcc/adapted/<a key of the project folder>/<language>.ttc, where the language server
finds it (ttcc/adapted.py), never into the project unless --out says so.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

try:
    import numpy as np
    import torch
    from tqdm import tqdm
except ModuleNotFoundError as missing:  # ttcc installed without its `train` extra
    print(f"error: adapting a model needs {missing.name}, which is not installed here; "
          f"install PyTorch's CPU build with: {sys.executable} -m pip install torch==2.13.0 "
          "numpy tqdm --extra-index-url https://download.pytorch.org/whl/cpu", file=sys.stderr)
    raise SystemExit(3) from None

from training import tokens
from training.data import ExampleMaker
from training.evaluate import TypingResult, bits_per_character, simulate_typing, take_characters
from training.export import FormatError, export_ttc, load_ttc, read_metadata, set_memory_blend
from training.fit_memory import collect_features, fit_blend
from training.model import Transformer
from training.project_files import ProjectError, ProjectFiles, project_files
from ttcc import shipped_models_dir
from ttcc.adapted import default_adapted_dir, project_dir, record_project
from ttcc.engine import Model, ModelError
from ttcc.languages import LANGUAGES

DEFAULT_MINUTES = 5.0
LEARNING_RATE = 3e-4
BATCH_SIZE = 16
FIM_RATE = 0.5  # as in training: fill-in-the-middle must not be forgotten
CHECK_EVERY_SECONDS = 15.0  # held-out loss between training steps
SCORED_CHARACTERS = 50_000  # held-out characters for bits/char
TYPED_CHARACTERS = 5_000  # held-out characters typed for keystrokes saved
# An adapted model whose suggestions are right less often than the shipped model's has
# its logits divided by SOFTER once more (at most MAX_SOFTENING times): it grows less
# sure of itself, so its suggestions stop sooner.
SOFTER = 1.15
MAX_SOFTENING = 3
FILL_END_NOISE = 0.02  # the fill-end probability's spread over its 200 samples


class AdaptError(RuntimeError):
    """Adapting cannot go on; the message says why."""


def token_stream(texts: list[str]) -> np.ndarray:
    """The texts packed as training reads a corpus: BOS text EOS, one after another."""
    stream = []
    for text in texts:
        stream += [tokens.BOS, *tokens.encode(text), tokens.EOS]
    return np.asarray(stream, dtype=np.uint8)


@dataclass
class Measure:
    bits_per_char: float
    keystrokes_saved: float
    fully_correct: float
    fill_end: float  # mean probability of ending a fill-in-the-middle where it ends


FILL_SAMPLES = 200


def fill_end_probability(model: Model, texts: list[str]) -> float:
    """The mean probability the model gives to ending the middle of a fill-in-the-middle
    prompt (as the engine lays it out) right where it ends: the second half of a line
    (32 characters at most) between the text before and after it. A model that forgot
    how to end a fill suggests past the text that follows the cursor."""
    window = model.info.window
    cases = []  # (text, cut, end): where each middle starts and ends
    for text in texts:
        start = 0
        for line in text.split("\n"):
            if len(line.strip()) >= 8:
                cut = start + len(line) // 2
                cases.append((text, cut, min(start + len(line), cut + 32)))
            start += len(line) + 1
    if not cases:
        return 0.0
    session = model.session()
    step = max(1, len(cases) // FILL_SAMPLES)
    total = count = 0.0
    for text, cut, end in cases[::step][:FILL_SAMPLES]:
        prefix, middle, suffix = text[:cut], text[cut:end], text[end:end + window // 8]
        head = [tokens.FIM_PREFIX, tokens.FIM_SUFFIX, *tokens.encode(suffix), tokens.FIM_MIDDLE]
        tail = tokens.encode(middle)
        room = window - len(head) - len(tail)
        prompt = head + tokens.encode(prefix)[-room:] + tail if room > 0 else head + tail
        (logits,) = session.logits(prompt[:window], rows=1)
        top = max(logits)
        total += math.exp(logits[tokens.FIM_END] - top) / sum(math.exp(v - top) for v in logits)
        count += 1
    return total / count


def measure(model: Model, texts: list[str]) -> Measure:
    """Bits/char, typing and ending a fill on held-out texts, memory on, the engine's
    defaults."""
    bits = chars = 0.0
    for text in take_characters(texts, SCORED_CHARACTERS):
        b, c = bits_per_character(model, text)
        bits, chars = bits + b, chars + c
    typing = TypingResult()
    for text in take_characters(texts, TYPED_CHARACTERS):
        typing.add(simulate_typing(model.session(), text))
    return Measure(bits / max(chars, 1), 1 - typing.keystrokes / max(typing.characters, 1),
                   typing.fully_correct / max(typing.shown, 1), fill_end_probability(model, texts))


def shortfalls(before: Measure, after: Measure) -> list[str]:
    """Where the adapted model does worse than the shipped one on the held-out files
    (nothing: it is kept)."""
    found = []
    if after.bits_per_char >= before.bits_per_char:
        found.append(f"bits/char {after.bits_per_char:.3f}, not below {before.bits_per_char:.3f}")
    if after.keystrokes_saved < before.keystrokes_saved:
        found.append(f"keystrokes saved {100 * after.keystrokes_saved:.1f} % "
                     f"< {100 * before.keystrokes_saved:.1f} %")
    if after.fully_correct < before.fully_correct:
        found.append(f"fully correct {100 * after.fully_correct:.1f} % "
                     f"< {100 * before.fully_correct:.1f} %")
    if after.fill_end < before.fill_end - FILL_END_NOISE:
        found.append(f"ends a fill {after.fill_end:.2f} < {before.fill_end:.2f}")
    return found


@torch.no_grad()
def held_out_loss(model: Transformer, batches: list[tuple[torch.Tensor, torch.Tensor]]
                  ) -> float:
    model.eval()
    loss = sum(model(inputs, targets)[1].item() for inputs, targets in batches) / len(batches)
    model.train()
    return loss


def fine_tune(model: Transformer, files: ProjectFiles, seconds: float,
              progress: str = "bar") -> tuple[Transformer, dict]:
    """The weights with the lowest held-out loss seen while training for `seconds`
    (the starting weights count), and what happened. progress: "bar", "lines" (a
    `progress N %` line each time N grows, for programs) or "none"."""
    window = model.config.window
    train_stream = token_stream([text for _, text in files.training])
    held_stream = token_stream([text for _, text in files.held_out])
    for name, stream in (("training", train_stream), ("held-out", held_stream)):
        if len(stream) <= window + 1:
            raise AdaptError(f"too little code in the {name} files ({len(stream)} characters; "
                             f"more than {window} needed)")
    maker = ExampleMaker([train_stream], window, fim_rate=FIM_RATE)
    checks = ExampleMaker([held_stream], window, fim_rate=0.0)
    check_batches = [checks.batch(BATCH_SIZE, seed=0, rank=0, step=i) for i in range(4)]
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, betas=(0.9, 0.95),
                                  weight_decay=0.0)
    best_loss = start_loss = held_out_loss(model, check_batches)
    best = copy.deepcopy(model.state_dict())
    started = time.monotonic()
    next_check = started + CHECK_EVERY_SECONDS
    step = 0
    interrupted = False
    shown = 0  # the last percentage printed as a line
    bar = tqdm(total=round(seconds), unit="s", desc="adapting", disable=progress != "bar",
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} of {total}s{postfix}")
    model.train()
    try:
        while (now := time.monotonic()) < started + seconds:
            cosine = 0.5 * (1 + math.cos(math.pi * (now - started) / seconds))
            for group in optimizer.param_groups:  # down to a tenth over the time budget
                group["lr"] = LEARNING_RATE * (0.1 + 0.9 * cosine)
            inputs, targets = maker.batch(BATCH_SIZE, seed=0, rank=0, step=step)
            _, loss = model(inputs, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step += 1
            if time.monotonic() >= next_check:
                next_check += CHECK_EVERY_SECONDS
                current = held_out_loss(model, check_batches)
                if current < best_loss:
                    best_loss, best = current, copy.deepcopy(model.state_dict())
                bar.set_postfix_str(f"held-out {current / math.log(2):.3f} bits/char")
            bar.n = min(round(time.monotonic() - started), bar.total)
            bar.refresh()
            percent = min(100, int(100 * (time.monotonic() - started) / seconds))
            if progress == "lines" and percent > shown:
                shown = percent
                print(f"progress {percent} %", flush=True)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    if not interrupted:
        current = held_out_loss(model, check_batches)
        if current < best_loss:
            best_loss, best = current, copy.deepcopy(model.state_dict())
    model.load_state_dict(best)
    temperature = calibrate(model, check_batches)
    return model, {"steps": step, "interrupted": interrupted, "temperature": temperature,
                   "held_out_bits_start": start_loss / math.log(2),
                   "held_out_bits_best": best_loss / math.log(2)}


@torch.no_grad()
def calibrate(model: Transformer, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """Divides the model's logits by the temperature that fits the held-out text best,
    folded into the final norm's weights (logits are linear in them); returns it.
    Fine-tuned on a few files, a model grows surer of itself than held-out code bears
    out, and its suggestions run longer than they are right."""
    model.eval()
    scored = []
    for inputs, targets in batches:
        logits, _ = model(inputs, targets)
        scored.append((logits.float(), targets))
    model.train()

    def loss(temperature: float) -> float:
        return sum(torch.nn.functional.cross_entropy(
            (logits / temperature).reshape(-1, logits.shape[-1]), targets.reshape(-1)).item()
            for logits, targets in scored)

    temperature = min(np.arange(0.7, 2.51, 0.05), key=loss)
    model.norm.weight.div_(float(temperature))
    return float(temperature)


def adapt(project: Path, language: str, minutes: float, out: Path, models_dir: Path,
          progress: str = "bar") -> dict:
    """Adapts; returns what was measured and whether the adapted model was kept."""
    started = time.monotonic()
    shipped_path = models_dir / f"{language}.ttc"
    if not shipped_path.is_file():
        raise AdaptError(f"{shipped_path}: no shipped model for {language}")
    files = project_files(project, language)
    print(f"{len(files.training)} files to learn from, {len(files.held_out)} held out "
          f"({files.characters:,} characters)"
          + "".join(f"; skipped {n} {why}" for why, n in sorted(files.skipped.items())),
          flush=True)
    held_texts = [text for _, text in files.held_out]
    shipped = Model.load(shipped_path)
    before = measure(shipped, held_texts)
    measuring = time.monotonic() - started
    # What is left after training: refitting the blend, measuring once more and, when
    # the adapted model is right less often, softening it once (more while time is left).
    deadline = started + minutes * 60
    seconds = deadline - time.monotonic() - 3.5 * measuring - 5
    if seconds < 10:
        raise AdaptError(f"--minutes {minutes} leaves no time to train (measuring alone took "
                         f"{measuring:.0f} s)")

    print(f"training for {seconds:.0f} s (Ctrl-C stops it and keeps the best weights so far)",
          flush=True)
    torch.manual_seed(0)
    model, header = load_ttc(shipped_path)
    model, run = fine_tune(model, files, seconds, progress)
    if run["interrupted"]:
        print("interrupted: going on with the best weights so far")
    metadata = read_metadata(shipped_path)
    metadata.update(adapted_from=shipped_path.name, adapted_project=str(project.resolve()),
                    adapted_files=len(files.training), adapted_steps=run["steps"])
    with tempfile.TemporaryDirectory() as scratch:
        candidate = Path(scratch) / out.name
        export_ttc(model, candidate, metadata, group_size=header["group_size"],
                   memory_blend=header["memory_blend"])
        blend, _ = fit_blend(collect_features(Model.load(candidate), held_texts,
                                              SCORED_CHARACTERS))
        set_memory_blend(candidate, blend)
        after = measure(Model.load(candidate), held_texts)
        softened = 0
        # Once softened at most after Ctrl-C: the user asked for the run to end.
        while (after.fully_correct < before.fully_correct and softened < MAX_SOFTENING
               and (softened == 0 or (not run["interrupted"]
                                      and time.monotonic() + measuring < deadline))):
            model.norm.weight.data.div_(SOFTER)
            softened += 1
            export_ttc(model, candidate, metadata, group_size=header["group_size"],
                       memory_blend=blend)
            after = measure(Model.load(candidate), held_texts)
        run["softened"] = softened
        run["temperature"] *= SOFTER ** softened
        worse = shortfalls(before, after)
        if not worse:
            if out.parent == project_dir(default_adapted_dir(), project):
                record_project(default_adapted_dir(), project)  # the server finds it so
            out.parent.mkdir(parents=True, exist_ok=True)
            staged = out.with_name(f".{out.name}.partial")
            shutil.copyfile(candidate, staged)
            os.replace(staged, out)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"before": before.__dict__, "after": after.__dict__, "kept": not worse,
            "worse": worse,
            "out": str(out), "seconds": time.monotonic() - started, "peak_mb": peak_mb,
            "training": run, "files": len(files.training), "held_out": len(files.held_out)}


def report(result: dict) -> str:
    before, after = result["before"], result["after"]
    lines = [
        "| held-out files | bits/char | keystrokes saved | fully correct | ends a fill |",
        "|---|---|---|---|---|",
        *(f"| {name} | {m['bits_per_char']:.3f} | {100 * m['keystrokes_saved']:.1f} % "
          f"| {100 * m['fully_correct']:.1f} % | {m['fill_end']:.2f} |"
          for name, m in (("shipped model", before), ("adapted", after))),
        "",
        (f"wrote {result['out']}" if result["kept"] else
         "adapting did not help on the held-out files (" + "; ".join(result["worse"])
         + "): keeping the shipped model, nothing written"),
        f"{result['seconds']:.0f} s, {result['training']['steps']} steps, temperature "
        f"{result['training']['temperature']:.2f}, peak memory {result['peak_mb']:.0f} MB",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.adapt",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="the project folder")
    parser.add_argument("--language", required=True, choices=LANGUAGES)
    parser.add_argument("--minutes", type=float, default=DEFAULT_MINUTES,
                        help=f"time for the whole run (default {DEFAULT_MINUTES:g})")
    parser.add_argument("--out", help="model file to write (default: the user's cache)")
    parser.add_argument("--models-dir", default=str(shipped_models_dir()),
                        help="where the shipped NAME.ttc models are (default: the package's)")
    parser.add_argument("--json", help="also write the measurements to this file")
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--no-progress", action="store_true", help="no progress bar")
    shown.add_argument("--progress-lines", action="store_true",
                       help="progress as lines `progress N %%` (for programs) instead of a bar")
    args = parser.parse_args(argv)
    if not args.minutes > 0:
        parser.error("--minutes must be more than 0")
    project = Path(args.folder)
    out = (Path(args.out) if args.out
           else project_dir(default_adapted_dir(), project) / f"{args.language}.ttc")
    torch.set_num_threads(os.cpu_count() or 1)
    try:
        result = adapt(project, args.language, args.minutes, out, Path(args.models_dir),
                       progress="none" if args.no_progress else
                       "lines" if args.progress_lines else "bar")
    except (AdaptError, ProjectError, FormatError, ModelError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
