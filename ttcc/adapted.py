"""Models adapted to a project (python -m training.adapt), and where they are kept.

    python -m ttcc.adapted --forget FOLDER    removes the models adapted to FOLDER

The user's cache holds one folder per project: ADAPTED/<key>/project.json names the
project folder, ADAPTED/<key>/LANGUAGE.ttc is its adapted model. The language server
reads adapted models only from the folder its command line names (by default this
cache), never from a path a client sends; a document uses the model of the innermost
adapted project folder it lies in.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import sys
from pathlib import Path

log = logging.getLogger(__name__)

PROJECT_FILE = "project.json"


def default_adapted_dir() -> Path:
    """The user's cache of adapted models (the XDG convention)."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "ttcc" / "adapted"


def project_dir(adapted_dir: Path, project: Path) -> Path:
    """The folder of one project's adapted models."""
    key = hashlib.sha256(str(project.resolve()).encode("utf-8")).hexdigest()[:16]
    return adapted_dir / key


def record_project(adapted_dir: Path, project: Path) -> Path:
    """Writes which project folder a cache folder belongs to; returns the cache folder."""
    folder = project_dir(adapted_dir, project)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PROJECT_FILE).write_text(json.dumps({"folder": str(project.resolve())}) + "\n")
    return folder


def forget_project(adapted_dir: Path, project: Path) -> list[str]:
    """Removes the models adapted to project; returns their languages."""
    folder = project_dir(adapted_dir, project)
    languages = sorted(model.stem for model in folder.glob("*.ttc"))
    shutil.rmtree(folder, ignore_errors=True)
    return languages


class AdaptedModels:
    """Which adapted model file, if any, serves a path. The cache is read again when
    its folder changes (a project adapted or forgotten while the server runs)."""

    def __init__(self, adapted_dir: Path | None) -> None:
        self.adapted_dir = adapted_dir
        self._seen: float | None = None
        self._projects: list[tuple[Path, Path]] = []  # (project folder, cache folder)

    def model_file(self, path: Path, language: str) -> tuple[Path, Path] | None:
        """(model file, project folder) of the innermost adapted project holding path
        with a model for language, or None."""
        for project, folder in self._current():
            model = folder / f"{language}.ttc"
            if path.is_relative_to(project) and model.is_file():
                return model, project
        return None

    def _current(self) -> list[tuple[Path, Path]]:
        if self.adapted_dir is None:
            return []
        try:
            changed = self.adapted_dir.stat().st_mtime
        except OSError:
            return []
        if changed != self._seen:
            self._seen, self._projects = changed, self._read()
        return self._projects

    def _read(self) -> list[tuple[Path, Path]]:
        projects = []
        for folder in sorted(self.adapted_dir.iterdir()):
            try:
                project = Path(json.loads((folder / PROJECT_FILE).read_text())["folder"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if project.is_absolute():
                projects.append((project, folder))
        # innermost first: a project inside another one wins for its own files
        return sorted(projects, key=lambda pair: len(pair[0].parts), reverse=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ttcc.adapted",
                                     description="Models adapted to projects, in the user's "
                                     f"cache ({default_adapted_dir()}).")
    parser.add_argument("--forget", metavar="FOLDER", required=True,
                        help="remove the models adapted to this project folder")
    args = parser.parse_args(argv)
    project = Path(args.forget)
    languages = forget_project(default_adapted_dir(), project)
    print(f"forgot the {', '.join(languages)} model{'s' * (len(languages) > 1)} adapted to "
          f"{project.resolve()}" if languages else f"no model was adapted to {project.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
