"""ttcc: code completion from a tiny character-level transformer, on your machine.

    ttcc.engine   the C engine's Python binding (models, sessions, completions)
    ttcc.server   the language server (`python -m server`, `ttcc-server`)
    ttcc/models/  the shipped models, found through shipped_models_dir()
"""

from importlib.metadata import PackageNotFoundError, version
from importlib.resources import files
from pathlib import Path

try:
    __version__ = version("ttcc")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+checkout"


def shipped_models_dir() -> Path:
    """The folder of the models that come with ttcc: NAME.ttc for each language and base."""
    return Path(str(files(__name__) / "models"))
