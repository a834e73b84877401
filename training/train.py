"""Train the model: pretrain the multi-language base, then fine-tune it per language.

    python -m training.train --out runs/base --preset small --steps 4000
    python -m training.train --out runs/tuned --init-from runs/base/checkpoint.pt \\
        --each-language --steps 400
    python -m training.train --out runs/base --resume --steps 6000   # continue, exactly

One flat loop: AdamW, linear warmup then cosine decay, gradient clipping, bf16
autocast, optional torch.compile. Under `torchrun` (which sets RANK / WORLD_SIZE) it
trains data-parallel with DistributedDataParallel: nccl on GPUs, gloo on CPUs.
Every `eval_interval` steps the first process measures validation bits per character,
saves `checkpoint.pt` (with the optimizer, so a resumed run continues exactly) and
redraws `loss.png`. At the end it exports `model.ttc` for the engine.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from training import data
from training.export import export_ttc
from training.model import PRESETS, Transformer, load_checkpoint, save_checkpoint
from training.plot import plot_losses

CHECKPOINT = "checkpoint.pt"
EXPORTED = "model.ttc"


def _option(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    corpus: str = _option("data/corpus", "corpus directory built by training.corpus")
    out: str = _option("runs/base", "run directory: checkpoint.pt, loss.png, model.ttc")
    languages: str = _option("all", "comma-separated languages to train on, or 'all'")
    each_language: bool = _option(False, "fine-tune one model per language into out/<language>")
    preset: str = _option("small", f"model size: {', '.join(PRESETS)}")
    window: int = _option(0, "context window in tokens (0 = the preset's)")
    n_kv_heads: int = _option(0, "key/value heads for grouped-query attention (0 = preset's)")
    init_from: str = _option("", "start from this checkpoint's weights (fine-tuning)")
    resume: bool = _option(False, "continue the run in --out from its checkpoint")
    steps: int = _option(2000, "optimizer steps in all (a resumed run counts its earlier ones)")
    stop_at: int = _option(0, "pause after this step with a checkpoint (0 = run to the end)")
    time_limit: float = _option(0.0, "pause after this many minutes with a checkpoint (0 = none)")
    batch_size: int = _option(32, "examples per step and process")
    lr: float = _option(2e-3, "peak learning rate")
    min_lr_ratio: float = _option(0.1, "final learning rate as a share of the peak")
    warmup_steps: int = _option(100, "steps of linear warmup")
    weight_decay: float = _option(0.1, "AdamW weight decay on matrices")
    grad_clip: float = _option(1.0, "clip the gradient norm to this (0 = off)")
    fim_rate: float = _option(0.5, "share of fill-in-the-middle examples")
    eval_interval: int = _option(200, "steps between validations and checkpoints")
    eval_batches: int = _option(8, "validation batches per language")
    precision: str = _option("bf16", "bf16 (autocast) or fp32")
    compile: bool = _option(False, "use torch.compile")
    seed: int = _option(1337, "seed of the weights and of every batch")
    device: str = _option("auto", "cpu, cuda, or auto")
    language_tag: str = _option("", "language written into model.ttc (default: from --languages)")


class TrainingError(RuntimeError):
    """A run cannot start or continue; the message says why."""


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Linear warmup to cfg.lr, then cosine decay to cfg.lr * cfg.min_lr_ratio."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_optimizer(model: nn.Module, cfg: TrainConfig, fused: bool) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on norms)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95), fused=fused)


@dataclass
class Process:
    """Where this process runs and its place among data-parallel processes."""

    device: torch.device
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def start_process(requested: str) -> Process:
    """Joins the torchrun group when there is one and picks the device."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if "RANK" not in os.environ:
        return Process(torch.device(requested))
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    if requested == "cuda":
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl")
        return Process(torch.device("cuda", local_rank), rank, world_size)
    dist.init_process_group("gloo")
    return Process(torch.device("cpu"), rank, world_size)


def hardware() -> str:
    """What trained the model, for its metadata: the GPU's name or the CPU's."""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} x {max(1, torch.cuda.device_count())}"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        model = "CPU"
    return f"{model}, {torch.get_num_threads()} threads"


def autocast(cfg: TrainConfig, device: torch.device) -> contextlib.AbstractContextManager:
    if cfg.precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def selected_languages(cfg: TrainConfig) -> list[str]:
    available = data.corpus_languages(cfg.corpus)
    if cfg.languages == "all":
        return available
    chosen = [name.strip() for name in cfg.languages.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        raise TrainingError(
            f"no {', '.join(unknown)} in {cfg.corpus} (it has: {', '.join(available)})"
        )
    return chosen


def build_model(cfg: TrainConfig) -> tuple[Transformer, dict[str, Any]]:
    """A fresh model, or the one in --init-from; returns it with that checkpoint's extra."""
    if cfg.init_from:
        try:
            model, extra = load_checkpoint(cfg.init_from)
        except (OSError, ValueError) as e:
            raise TrainingError(f"cannot start from {cfg.init_from}: {e}") from e
        return model, extra
    if cfg.preset not in PRESETS:
        raise TrainingError(f"unknown preset {cfg.preset!r} (choose from {', '.join(PRESETS)})")
    overrides = {}
    if cfg.window:
        overrides["window"] = cfg.window
    if cfg.n_kv_heads:
        overrides["n_kv_heads"] = cfg.n_kv_heads
    try:
        model_config = dataclasses.replace(PRESETS[cfg.preset], **overrides)
    except ValueError as e:
        raise TrainingError(str(e)) from e
    torch.manual_seed(cfg.seed)
    return Transformer(model_config), {}


@torch.no_grad()
def validate(
    model: nn.Module, batches: dict[str, list], cfg: TrainConfig, device: torch.device
) -> dict[str, float]:
    """Validation bits per character for each language (plain examples)."""
    model.eval()
    result = {}
    for language, language_batches in batches.items():
        losses = []
        for inputs, targets in language_batches:
            with autocast(cfg, device):
                _, loss = model(inputs.to(device), targets.to(device))
            losses.append(loss.item())
        result[language] = sum(losses) / len(losses) / math.log(2)
    model.train()
    return result


def _save(path: Path, model: nn.Module, **extra: Any) -> None:
    """Writes the checkpoint next to itself first, so a crash never leaves half a file."""
    partial = path.with_suffix(".partial")
    save_checkpoint(partial, model, **extra)
    os.replace(partial, path)


def train(cfg: TrainConfig, process: Process | None = None) -> Path:
    """Runs (or continues) one training run; returns its run directory."""
    process = process or start_process(cfg.device)
    out = Path(cfg.out)
    checkpoint_path = out / CHECKPOINT
    languages = selected_languages(cfg)

    state: dict[str, Any] = {"step": 0, "history": [], "tokens": 0, "seconds": 0.0}
    if cfg.resume:
        if not checkpoint_path.is_file():
            raise TrainingError(f"--resume: no {checkpoint_path} to continue from")
        try:
            model, state = load_checkpoint(checkpoint_path)
        except ValueError as e:
            raise TrainingError(str(e)) from e
    else:
        if checkpoint_path.exists():
            raise TrainingError(
                f"{checkpoint_path} exists: pass --resume to continue it, or another --out"
            )
        model, base = build_model(cfg)
        state["base_tokens"] = int(base.get("tokens", 0)) + int(base.get("base_tokens", 0))
        state["base_seconds"] = float(base.get("seconds", 0)) + float(base.get("base_seconds", 0))
    window = model.config.window
    model.to(process.device).train()

    train_streams = data.load_split(cfg.corpus, languages, "train")
    maker = data.ExampleMaker(train_streams, window, cfg.fim_rate)
    val_batches = {}
    if process.is_main:
        for language, stream in zip(languages, data.load_split(cfg.corpus, languages, "val"),
                                    strict=True):
            val_batches[language] = data.validation_batches(
                stream, window, cfg.batch_size, cfg.eval_batches
            )

    optimizer = make_optimizer(model, cfg, fused=process.device.type == "cuda")
    if cfg.resume:
        optimizer.load_state_dict(state.pop("optimizer"))
    trained: nn.Module = model
    if process.world_size > 1:
        trained = DistributedDataParallel(model)
    if cfg.compile:
        trained = torch.compile(trained)

    out.mkdir(parents=True, exist_ok=True)
    tokens_per_step = cfg.batch_size * window * process.world_size
    bar = tqdm(
        total=cfg.steps, initial=state["step"], disable=not process.is_main,
        desc=out.name, unit="step", dynamic_ncols=True,
    )
    started, started_step = time.perf_counter(), state["step"]
    seconds_before = state.get("seconds", 0.0)
    pause_at = min(cfg.steps, cfg.stop_at or cfg.steps)
    deadline = started + cfg.time_limit * 60 if cfg.time_limit else math.inf
    loss = torch.zeros(())
    try:
        while state["step"] < pause_at:
            loss = _step(trained, model, optimizer, maker, cfg, process, state["step"])
            state["step"] += 1
            state["tokens"] += tokens_per_step
            elapsed = time.perf_counter() - started
            state["seconds"] = seconds_before + elapsed
            rate = (state["step"] - started_step) * tokens_per_step / max(elapsed, 1e-9)
            bar.set_postfix(loss=f"{loss.item():.3f}", tok_s=f"{rate:,.0f}", refresh=False)
            bar.update()
            out_of_time = _agree(time.perf_counter() > deadline, process)
            if state["step"] % cfg.eval_interval == 0 or state["step"] == pause_at or out_of_time:
                _checkpoint(model, optimizer, cfg, state, val_batches, loss.item(), process, bar)
            if out_of_time:
                break
    except KeyboardInterrupt:
        _checkpoint(model, optimizer, cfg, state, val_batches, loss.item(), process, bar)
        raise
    finally:
        bar.close()
    if process.is_main and state["step"] == cfg.steps:
        _export(model, cfg, state, languages)
    elif process.is_main:
        print(f"paused at step {state['step']} of {cfg.steps}; continue with --resume",
              file=sys.stderr)
    return out


def _step(trained, model, optimizer, maker, cfg, process, step) -> torch.Tensor:
    """One optimizer step on this step's batch; returns the loss."""
    for group in optimizer.param_groups:
        group["lr"] = learning_rate(cfg, step)
    inputs, targets = maker.batch(cfg.batch_size, cfg.seed, process.rank, step)
    with autocast(cfg, process.device):
        _, loss = trained(inputs.to(process.device), targets.to(process.device))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip > 0:
        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    optimizer.step()
    return loss.detach()


def _agree(flag: bool, process: Process) -> bool:
    """True on every process when it is true on any (so that all stop together)."""
    if process.world_size == 1:
        return flag
    value = torch.tensor(float(flag), device=process.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def _checkpoint(model, optimizer, cfg, state, val_batches, train_loss, process, bar) -> None:
    """Validation, checkpoint and loss curve, on the first process only."""
    if not process.is_main:
        return
    val_bits = validate(model, val_batches, cfg, process.device)
    state["history"].append(
        {"step": state["step"], "tokens": state["tokens"],
         "train_bits": train_loss / math.log(2), "val_bits": val_bits}
    )
    mean_bits = sum(val_bits.values()) / len(val_bits)
    bar.write(f"step {state['step']}: validation {mean_bits:.3f} bits/char "
              + " ".join(f"{k}={v:.3f}" for k, v in val_bits.items()))
    out = Path(cfg.out)
    extra = {**state, "optimizer": optimizer.state_dict(), "train_config": dataclasses.asdict(cfg)}
    _save(out / CHECKPOINT, model, **extra)
    plot_losses(state["history"], out / "loss.png", title=out.name)


def _export(model: Transformer, cfg: TrainConfig, state: dict[str, Any],
            languages: list[str]) -> None:
    last = state["history"][-1]["val_bits"] if state["history"] else {}
    language = cfg.language_tag or (languages[0] if len(languages) == 1 else "base")
    export_ttc(
        model.cpu(),
        Path(cfg.out) / EXPORTED,
        {
            "language": language,
            "training_tokens": state["tokens"] + state.get("base_tokens", 0),
            "training_minutes": round(
                (state["seconds"] + state.get("base_seconds", 0.0)) / 60, 1),
            "hardware": hardware(),
            "metrics": {"validation_bits_per_char": last},
            "trained_on": languages,
        },
    )


def train_each_language(cfg: TrainConfig) -> list[Path]:
    """Fine-tunes --init-from once per language, into out/<language>/."""
    if not cfg.init_from and not cfg.resume:
        raise TrainingError("--each-language fine-tunes a base: give it --init-from")
    process = start_process(cfg.device)
    runs = []
    for language in selected_languages(cfg):
        run = dataclasses.replace(
            cfg, languages=language, out=str(Path(cfg.out) / language), each_language=False
        )
        if cfg.resume and not (Path(run.out) / CHECKPOINT).is_file():
            run = dataclasses.replace(run, resume=False)
        runs.append(train(run, process))
    return runs


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    parser = argparse.ArgumentParser(
        prog="python -m training.train", description=__doc__.split("\n\n")[0]
    )
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type == "bool":
            parser.add_argument(flag, action="store_true", help=f.metadata["help"])
        else:
            kind = {"int": int, "float": float, "str": str}[str(f.type)]
            parser.add_argument(flag, type=kind, default=f.default,
                                help=f"{f.metadata['help']} (default: {f.default})")
    args = parser.parse_args(argv)
    cfg = TrainConfig(**vars(args))
    if cfg.precision not in ("bf16", "fp32"):
        parser.error("--precision must be bf16 or fp32")
    return cfg


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    try:
        if cfg.each_language:
            train_each_language(cfg)
        else:
            train(cfg)
        if dist.is_initialized():
            # The first process validates and exports after the last step; the others
            # wait for it, since a process group torn down while a peer still holds
            # its connections can abort that peer.
            dist.barrier()
    except (TrainingError, data.DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
