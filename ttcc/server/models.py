"""Models by name, loaded lazily from the models directory, once, and shared; and the
models adapted to projects, loaded again when their file changes."""

from __future__ import annotations

import logging
from pathlib import Path

from ttcc import shipped_models_dir
from ttcc.adapted import AdaptedModels
from ttcc.engine import Model, ModelError

log = logging.getLogger(__name__)


class ModelStore:
    """Loads NAME.ttc from one directory on first use. A file that is missing or
    damaged is reported once (the message is returned to the caller) and then
    treated as absent."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._loaded: dict[str, Model] = {}
        self._failed: dict[str, str] = {}

    def get(self, name: str) -> tuple[Model | None, str | None]:
        """(model, None), or (None, message) the first time it fails, (None, None) after."""
        if name in self._loaded:
            return self._loaded[name], None
        if name in self._failed:
            return None, None
        path = self.directory / f"{name}.ttc"
        if not self.directory.is_dir():
            problem = f"the models folder {self.directory} does not exist"
        elif not path.is_file():
            problem = f"{path.name} is missing from {self.directory}"
        else:
            try:
                model = Model.load(path)
            except ModelError as error:
                problem = str(error)
            else:
                log.info("loaded %s (%d parameters)", path, model.info.parameters)
                self._loaded[name] = model
                return model, None
        self._failed[name] = problem
        log.warning("model %s unavailable: %s", name, problem)
        return None, problem

    @property
    def loaded(self) -> list[str]:
        return sorted(self._loaded)

    def exists(self, name: str) -> bool:
        return (self.directory / f"{name}.ttc").is_file()

    def fix(self) -> str:
        """What the user can do about a model that is missing or damaged."""
        if self.directory == shipped_models_dir():
            return "this ttcc installation is incomplete: reinstall it " \
                   "(pip install --force-reinstall ttcc)"
        return (f"put the model files (NAME.ttc) into {self.directory}, or start the server "
                "without --models-dir to use the models that come with ttcc")


class AdaptedStore:
    """The adapted model for a document path, if its project has one (ttcc.adapted). A
    file that fails to load is reported once per version of the file, and the shipped
    model serves meanwhile."""

    def __init__(self, adapted_dir: Path | None) -> None:
        self.adapted = AdaptedModels(adapted_dir)
        self._loaded: dict[Path, tuple[float, Model | None]] = {}

    def get(self, path: Path, language: str) -> tuple[Model | None, Path | None, str | None]:
        """(model, its project folder, None), (None, None, message) when a file fails
        to load the first time, (None, None, None) when there is none."""
        found = self.adapted.model_file(path, language)
        if found is None:
            return None, None, None
        file, project = found
        try:
            changed = file.stat().st_mtime
        except OSError:
            return None, None, None
        known = self._loaded.get(file)
        if known is not None and known[0] == changed:
            return known[1], (project if known[1] else None), None
        try:
            model = Model.load(file)
        except (ModelError, OSError) as error:
            self._loaded[file] = (changed, None)
            log.warning("adapted model %s unavailable: %s", file, error)
            return None, None, f"the model adapted to {project} cannot be used ({error})"
        log.info("loaded %s, adapted to %s", file, project)
        self._loaded[file] = (changed, model)
        return model, project, None
