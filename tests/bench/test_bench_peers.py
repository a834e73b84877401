"""bench/bench_peers.py: its onnxruntime peer computes the model ttcc runs, and the whole
bench runs on a tiny model in well under a minute."""

import re
import subprocess
import sys
import time
from pathlib import Path

import torch

from bench.bench_peers import DecodeStep
from tests.conftest import ROOT, export_random
from training.export import load_ttc


def test_the_decoding_step_is_the_reference_model(tmp_path: Path) -> None:
    model, _ = load_ttc(export_random("tiny", tmp_path / "tiny.ttc"))
    model.eval()
    cfg = model.config
    tokens = [2, *map(ord, "def f(x):\n    return x")]
    keys = values = torch.zeros(cfg.n_layers, 1, cfg.kv_heads, 0, cfg.head_dim)
    step = DecodeStep(model)
    with torch.no_grad():
        reference = model(torch.tensor([tokens]))[0][0]
        for position, token in enumerate(tokens):
            logits, keys, values = step(torch.tensor([[token]]), torch.tensor([position]),
                                        keys, values)  # fmt: skip
            assert torch.allclose(logits[0], reference[position], atol=1e-4), position


def test_the_bench_runs_on_a_tiny_model(tmp_path: Path) -> None:
    model = export_random("tiny", tmp_path / "tiny.ttc")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "bench/bench_peers.py", "--model", str(model),
                           "--repeats", "3"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert time.monotonic() - started < 60
    rows = re.findall(r"^\| (decode at position \d+|keystroke at \d+ characters, median) \|"
                      r".*\| ([\d.]+)x \|$", done.stdout, re.M)  # fmt: skip
    assert [name for name, _ in rows][-1].startswith("keystroke"), done.stdout
    assert rows[0][0] == "decode at position 256" or len(rows) >= 2, done.stdout
    assert all(float(ratio) > 0 for _, ratio in rows)
    assert re.search(r"copy bandwidth .* GB/s, which allows \d+ steps/s; ttcc decodes \d+ "
                     r"tokens/s there, \d+ % of it", done.stdout), done.stdout
    in_chromium = re.findall(r"^\| Chromium: (decode at position \d+|keystroke at \d+ "
                             r"characters, median) \|.*\| ([\d.]+)x \|$", done.stdout, re.M)
    assert len(in_chromium) == len(rows), done.stdout
    assert all(float(ratio) > 0 for _, ratio in in_chromium)
