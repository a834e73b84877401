"""Shared fixtures: randomly initialised models exported to the engine format, and the
packages users install."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.installation import install

ROOT = Path(__file__).resolve().parent.parent


def export_random(preset: str, path: Path, seed: int = 0) -> Path:
    # torch only when a test asks for a model: the tests of other parts run without it.
    import torch

    from training.export import export_ttc
    from training.model import PRESETS, Transformer

    torch.manual_seed(seed)
    export_ttc(Transformer(PRESETS[preset]), path, {"language": "test"})
    return path


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The "tiny" preset (window 256, grouped KV heads), random weights."""
    return export_random("tiny", tmp_path_factory.mktemp("models") / "tiny.ttc")


@pytest.fixture(scope="session")
def seed_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed-size preset (dim 288, 6 layers, window 2048), random weights."""
    return export_random("seed", tmp_path_factory.mktemp("models") / "seed.ttc")


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What scripts/package.sh builds for users, but the .vsix: sdist, wheel, wheelhouse."""
    out = tmp_path_factory.mktemp("dist")
    command = ["bash", str(ROOT / "scripts" / "package.sh"), "--out", str(out), "--no-vsix"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return out


@pytest.fixture(scope="session")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh venv (this interpreter's version) outside the checkout, with
    the wheel installed from the wheelhouse alone."""
    return install(sys._base_executable, dist / "wheelhouse", tmp_path_factory.mktemp("installed"))
