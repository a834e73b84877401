"""The document memory's extra text: for each open document, the text of the other open
documents of its language, most recently changed first, joined with "\\n" and bounded
to what the engine reads (MEMORY_TEXT_BYTES), cut at a document boundary where possible.

Typing in a document changes the other documents' memory text, not its own: each
language counts its documents' changes, and a document's text is built again only
when the count without its own changes moved."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ttcc.engine import MEMORY_TEXT_BYTES
from ttcc.languages import language_of


def memory_group(language_id: str | None, uri: str) -> str:
    """Documents whose text serves each other's memory: one of LANGUAGES (they share a
    model), else the client's languageId (which is never one of LANGUAGES then)."""
    return language_of(language_id, uri) or (language_id or "").lower()


@dataclass
class _Group:
    recent: OrderedDict[str, None] = field(default_factory=OrderedDict)  # least recent first
    version: int = 0  # opens, changes and closes of the group's documents
    own: dict[str, int] = field(default_factory=dict)  # how many of them were each document's


class MemoryTexts:
    """memory_text for each open document, from the other open documents of its group."""

    def __init__(self, limit_bytes: int = MEMORY_TEXT_BYTES) -> None:
        self.limit_bytes = limit_bytes
        self._groups: dict[str, _Group] = {}
        self._group_of: dict[str, str] = {}  # uri -> its group's name
        self._built: dict[str, tuple[int, str]] = {}  # uri -> (others' version, text)

    def opened(self, uri: str, group: str) -> None:
        self.closed(uri)
        self._group_of[uri] = group
        self._groups.setdefault(group, _Group()).own[uri] = 0
        self.changed(uri)

    def changed(self, uri: str) -> None:
        group = self._group(uri)
        if group is not None:
            group.version += 1
            group.own[uri] += 1
            group.recent[uri] = None
            group.recent.move_to_end(uri)

    def closed(self, uri: str) -> None:
        name = self._group_of.pop(uri, None)
        if name is None:
            return
        group = self._groups[name]
        group.version += 1
        del group.own[uri], group.recent[uri]
        self._built.pop(uri, None)
        if not group.recent:
            del self._groups[name]

    def text_for(self, uri: str, text_of: Callable[[str], str]) -> str:
        """The memory text for uri; text_of(other_uri) gives an open document's text."""
        group = self._group(uri)
        if group is None:
            return ""
        others_version = group.version - group.own[uri]
        built = self._built.get(uri)
        if built is None or built[0] != others_version:
            others = (text_of(other) for other in reversed(group.recent) if other != uri)
            built = (others_version, self._joined(others))
            self._built[uri] = built
        return built[1]

    def _joined(self, texts: Iterable[str]) -> str:
        """Whole texts while they fit in limit_bytes; only a first one that does not
        fit is cut."""
        parts: list[str] = []
        used = 0
        for text in texts:
            size = utf8_length(text) + (1 if parts else 0)  # the "\n" before it
            if used + size > self.limit_bytes:
                if not parts:
                    parts.append(utf8_start(text, self.limit_bytes))
                break
            parts.append(text)
            used += size
        return "\n".join(parts)

    def _group(self, uri: str) -> _Group | None:
        name = self._group_of.get(uri)
        return None if name is None else self._groups[name]


def utf8_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def utf8_start(text: str, limit: int) -> str:
    """The longest start of text within limit UTF-8 bytes (a character cut by the limit
    goes)."""
    if text.isascii():
        return text[:limit]
    return text.encode("utf-8", "surrogatepass")[:limit].decode("utf-8", "ignore")
