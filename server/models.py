"""Models by name, loaded lazily from the models directory, once, and shared."""

from __future__ import annotations

import logging
from pathlib import Path

from server.engine import Model, ModelError

log = logging.getLogger(__name__)


class ModelStore:
    """Loads NAME.ttc from one directory on first use. A file that is missing or
    damaged is reported once (the message is returned to the caller) and then
    treated as absent until the directory changes."""

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
        try:
            model = Model.load(path)
        except ModelError as error:
            self._failed[name] = str(error)
            log.warning("model %s unavailable: %s", name, error)
            return None, str(error)
        log.info("loaded %s (%d parameters)", path, model.info.parameters)
        self._loaded[name] = model
        return model, None

    @property
    def loaded(self) -> list[str]:
        return sorted(self._loaded)

    def exists(self, name: str) -> bool:
        return (self.directory / f"{name}.ttc").is_file()
