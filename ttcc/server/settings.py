"""The server's settings: defaults, and reading them from the client.

Clients send them as initializationOptions and in workspace/didChangeConfiguration,
either flat or under a "ttcc" key, with camelCase names (VS Code's convention)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ttcc import shipped_models_dir
from ttcc.engine import DEFAULT_OPTIONS, MAX_SUGGESTION
from ttcc.languages import LANGUAGES

DEFAULT_MODELS_DIR = shipped_models_dir()


@dataclass(frozen=True)
class Settings:
    enabled: bool = True  # completions on or off altogether
    enabled_languages: tuple[str, ...] = LANGUAGES  # languages that get suggestions
    unknown_languages: str = "base"  # other languages: "base" model or "off"
    # where suggestions end: the line (false), the block (true), or the block only right
    # after a block opener ("auto")
    multiline: bool | str = DEFAULT_OPTIONS["multiline"]
    max_chars: int = DEFAULT_OPTIONS["max_chars"]  # longest suggestion
    # stop where the cumulative probability falls below this
    min_confidence: float = DEFAULT_OPTIONS["min_confidence"]
    # blend in what followed the same text elsewhere
    document_memory: bool = DEFAULT_OPTIONS["document_memory"]
    memory_from_open_documents: bool = True  # the memory also reads other open documents
    debounce_ms: int = 0  # wait this long for more typing before computing
    memory_budget_mb: int = 256  # engine sessions beyond this are dropped, least recent first
    models_dir: Path = field(default=DEFAULT_MODELS_DIR)  # NAME.ttc files; command line only
    # models adapted to projects (ttcc.adapted); command line only; None: not used
    adapted_dir: Path | None = None


# camelCase name -> (field, check); each check returns the cleaned value or raises ValueError.
def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def _integer(low: int, high: int):
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"expected an integer in {low}..{high}")
        return value

    return check


def _probability(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError("expected a number in [0, 1]")
    return float(value)


def _languages(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of language names")
    unknown = sorted(set(value) - set(LANGUAGES))
    if unknown:
        raise ValueError(f"unknown languages {unknown}; known: {list(LANGUAGES)}")
    return tuple(value)


def _multiline(value: Any) -> bool | str:
    if not isinstance(value, bool) and value != "auto":
        raise ValueError('expected true, false or "auto"')
    return value


def _unknown_policy(value: Any) -> str:
    if value not in ("base", "off"):
        raise ValueError('expected "base" or "off"')
    return value


_FIELDS = {
    "enabled": ("enabled", _boolean),
    "enabledLanguages": ("enabled_languages", _languages),
    "unknownLanguages": ("unknown_languages", _unknown_policy),
    "multiline": ("multiline", _multiline),
    "maxChars": ("max_chars", _integer(1, MAX_SUGGESTION)),
    "minConfidence": ("min_confidence", _probability),
    "documentMemory": ("document_memory", _boolean),
    "memoryFromOpenDocuments": ("memory_from_open_documents", _boolean),
    "debounceMs": ("debounce_ms", _integer(0, 5000)),
    "memoryBudgetMb": ("memory_budget_mb", _integer(16, 65536)),
}


def update(settings: Settings, sent: Any) -> tuple[Settings, list[str]]:
    """Settings with what the client sent applied, and a message per rejected value.

    Unknown keys are ignored (clients send their whole configuration section)."""
    if isinstance(sent, dict) and isinstance(sent.get("ttcc"), dict):
        sent = sent["ttcc"]
    if not isinstance(sent, dict):
        return settings, []
    changes, problems = {}, []
    for key, value in sent.items():
        if key not in _FIELDS or value is None:
            continue
        name, check = _FIELDS[key]
        try:
            changes[name] = check(value)
        except ValueError as error:
            problems.append(f"ttcc.{key}: {error}; keeping {getattr(settings, name)!r}")
    return dataclasses.replace(settings, **changes), problems
