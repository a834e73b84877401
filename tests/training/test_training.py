"""The training pipeline end to end on a little real code: the Python standard library's
email package -> corpus -> training -> resume -> export -> engine -> evaluation."""

import json
import math
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import torch

from training import corpus, evaluate, train
from training.export import read_header, read_metadata
from training.model import load_checkpoint
from ttcc.engine import Model

STDLIB = Path(sysconfig.get_paths()["stdlib"])
TINY = ["--preset", "tiny", "--batch-size", "8", "--warmup-steps", "5", "--lr", "3e-3"]


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    status = corpus.main(["build", "--dir", str(STDLIB / "email"), "--language", "python",
                          "--out", str(out), "--val-fraction", "0.15"])
    assert status == 0
    return out


def run_training(*args: str) -> int:
    return train.main([*TINY, *args])


@pytest.fixture(scope="module")
def trained(corpus_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "base"
    status = run_training("--corpus", str(corpus_dir), "--out", str(out), "--steps", "50",
                          "--eval-interval", "10")
    assert status == 0
    return out


def weights(path: Path) -> dict[str, torch.Tensor]:
    model, _ = load_checkpoint(path)
    return model.state_dict()


def test_the_loss_goes_down(trained):
    _, extra = load_checkpoint(trained / train.CHECKPOINT)
    history = [point["val_bits"]["python"] for point in extra["history"]]
    assert len(history) == 5 and extra["step"] == 50
    assert history[-1] < history[0] - 0.5, history
    assert (trained / "loss.png").stat().st_size > 1000


def test_a_paused_run_resumes_exactly(corpus_dir, trained, tmp_path):
    out = tmp_path / "paused"
    common = ["--corpus", str(corpus_dir), "--out", str(out), "--steps", "50",
              "--eval-interval", "10"]
    assert run_training(*common, "--stop-at", "27") == 0
    assert not (out / train.EXPORTED).exists()
    assert run_training(*common, "--resume") == 0
    straight, resumed = weights(trained / train.CHECKPOINT), weights(out / train.CHECKPOINT)
    assert all(torch.equal(straight[name], resumed[name]) for name in straight)
    # The same weights in the engine's file too (its metadata records training time).
    exported = [(run / train.EXPORTED).read_bytes() for run in (out, trained)]
    start = read_header(exported[0])["weights_offset"]
    assert start == read_header(exported[1])["weights_offset"]
    assert exported[0][start:] == exported[1][start:]


def test_the_exported_model_runs_in_the_engine(trained, corpus_dir):
    path = trained / train.EXPORTED
    metadata = read_metadata(path)
    assert metadata["language"] == "python" and metadata["training_tokens"] == 50 * 8 * 256
    assert metadata["metrics"]["validation_bits_per_char"]["python"] > 0
    model = Model.load(path)
    suggestion = model.session().complete("import email\n\ndef parse(text):\n    return ")
    assert isinstance(suggestion, str)
    text = evaluate.validation_texts(corpus_dir, "python")[0][:500]
    assert all(math.isfinite(value) for value in model.logprobs(text))


def test_evaluate_prints_a_table_and_writes_json(trained, corpus_dir, tmp_path, capsys):
    report = tmp_path / "eval.json"
    status = evaluate.main(["--model", str(trained / train.EXPORTED), "--corpus",
                            str(corpus_dir), "--score-chars", "3000", "--typing-chars", "300",
                            "--json", str(report), "--no-progress"])
    assert status == 0
    table = capsys.readouterr().out
    assert "| language | model | memory | bits/char | xz -9e |" in table
    assert "| python | model.ttc | on |" in table and "| python | model.ttc | off |" in table
    payload = json.loads(report.read_text())
    with_memory = payload["languages"]["python"]
    without = payload["other_memory_mode"]["python"]
    assert with_memory["document_memory"] and not without["document_memory"]
    assert with_memory["characters"] == 3000 and with_memory["typed_characters"] == 300
    assert 0 < with_memory["bits_per_char"] < 7 and 0 < with_memory["xz_bits_per_char"] < 8
    assert with_memory["bits_per_char"] != without["bits_per_char"]


def test_fine_tuning_each_language_starts_from_the_base(trained, corpus_dir, tmp_path):
    out = tmp_path / "tuned"
    status = run_training("--corpus", str(corpus_dir), "--out", str(out), "--steps", "5",
                          "--eval-interval", "5", "--each-language", "--init-from",
                          str(trained / train.CHECKPOINT))
    assert status == 0
    metadata = read_metadata(out / "python" / train.EXPORTED)
    assert metadata["language"] == "python"
    assert metadata["training_tokens"] == (50 + 5) * 8 * 256


def test_data_parallel_training_with_torchrun_on_two_cpu_processes(corpus_dir, tmp_path):
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", "-m", "training.train", *TINY, "--device", "cpu",
               "--corpus", str(corpus_dir), "--out", str(out), "--steps", "10",
               "--eval-interval", "5"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    _, extra = load_checkpoint(out / train.CHECKPOINT)
    assert extra["step"] == 10 and extra["tokens"] == 10 * 8 * 256 * 2
    assert Model.load(out / train.EXPORTED)


def test_bad_inputs_are_clear_errors(corpus_dir, trained, tmp_path, capsys):
    def error_of(*args: str) -> str:
        assert run_training(*args) == 2
        return capsys.readouterr().err

    assert "no corpus directory" in error_of("--corpus", str(tmp_path / "none"),
                                             "--out", str(tmp_path / "a"))
    assert "exists: pass --resume" in error_of("--corpus", str(corpus_dir), "--out", str(trained))
    assert "no go in" in error_of("--corpus", str(corpus_dir), "--out", str(tmp_path / "b"),
                                  "--languages", "go")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint at all")
    assert "not a readable checkpoint" in error_of("--corpus", str(corpus_dir), "--out",
                                                   str(tmp_path / "c"), "--init-from",
                                                   str(corrupt))
    broken_run = tmp_path / "broken"
    broken_run.mkdir()
    (broken_run / train.CHECKPOINT).write_bytes(b"\0" * 100)
    assert "not a readable checkpoint" in error_of("--corpus", str(corpus_dir), "--out",
                                                   str(broken_run), "--resume")
    assert "--resume: no" in error_of("--corpus", str(corpus_dir), "--out",
                                      str(tmp_path / "d"), "--resume")


def test_the_gpu_recipe_runs_end_to_end_on_a_cpu_with_a_tiny_model(corpus_dir, tmp_path):
    archive = tmp_path / "corpus.tar.xz"
    assert corpus.main(["pack", "--out", str(corpus_dir), "--archive", str(archive),
                        "--max-archive-mb", "1"]) == 0
    out = tmp_path / "gpu"
    environment = {"DEVICE": "cpu", "PRESET": "tiny", "WINDOW": "256", "BATCH": "4",
                   "BASE_STEPS": "6", "TUNE_STEPS": "3", "COMPILE": "0",
                   "PYTHON": sys.executable, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(["bash", "training/gpu_recipe.sh", str(archive), str(out)],
                          env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("base", "python"):
        model = Model.load(out / "models" / f"{name}.ttc")
        assert read_metadata(out / "models" / f"{name}.ttc")["language"] == name
        assert model.session().complete("import os\n") is not None
