"""Installing what users get: a fresh venv with ttcc from the wheelhouse that
scripts/package.sh builds, and what its server should answer."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

from ttcc.engine import Model

ROOT = Path(__file__).resolve().parent.parent
PYTHON_PREFIX = "import numpy as np\n\n\ndef main():\n    for i in ra"
RUNTIME_DEPENDENCIES = {"cffi", "pygls", "lsprotocol"}


def python_named(version: str) -> str | None:
    """An interpreter of this CPython version on this machine (PATH or pyenv), if any."""
    candidates = [shutil.which(f"python{version}") or ""]
    candidates += sorted(glob.glob(str(Path.home() / f".pyenv/versions/{version}.*/bin/python3")))
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                               capture_output=True, text=True)  # fmt: skip
        wanted = str(tuple(int(part) for part in version.split(".")))
        if probe.returncode == 0 and probe.stdout.strip() == wanted:
            return candidate
    return None


def install(python: str, wheelhouse: Path, folder: Path) -> Path:
    """A fresh venv in folder/venv with ttcc installed from the wheelhouse alone; its python."""
    subprocess.run([python, "-m", "venv", str(folder / "venv")], check=True)
    venv_python = folder / "venv" / "bin" / "python"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    subprocess.run(
        [str(venv_python), "-m", "pip", "install", "-q", "--isolated", "--no-index",
         "--find-links", str(wheelhouse), "ttcc"],
        check=True, cwd=folder, env={**environment, "PIP_CONFIG_FILE": os.devnull},
    )  # fmt: skip
    return venv_python


def expected_python_suggestion() -> str:
    """What the checkout's engine suggests for PYTHON_PREFIX with the shipped model and the
    options editors get (the engine's defaults)."""
    session = Model.load(ROOT / "ttcc" / "models" / "python.ttc").session()
    return session.complete(PYTHON_PREFIX, "")
