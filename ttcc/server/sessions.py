"""One warm engine session per open document, within a memory budget."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from ttcc.engine import Model, Session


@dataclass
class DocumentSession:
    model: Model
    session: Session
    # Held while the engine runs: a request cancelled on the event loop may leave its
    # engine call running in a worker thread, and the next one must wait for it.
    lock: threading.Lock = field(default_factory=threading.Lock)


class SessionPool:
    """Sessions by document URI, least recently used first out when over budget."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._sessions: OrderedDict[str, DocumentSession] = OrderedDict()

    def get(self, uri: str, model: Model) -> DocumentSession:
        entry = self._sessions.get(uri)
        if entry is None or entry.model is not model:
            entry = DocumentSession(model, model.session())
            self._sessions[uri] = entry
        self._sessions.move_to_end(uri)
        self._evict(keep=uri)
        return entry

    def drop(self, uri: str) -> None:
        self._sessions.pop(uri, None)

    def __contains__(self, uri: str) -> bool:
        return uri in self._sessions

    def __len__(self) -> int:
        return len(self._sessions)

    @property
    def memory_bytes(self) -> int:
        return sum(entry.session.memory_bytes for entry in self._sessions.values())

    def _evict(self, keep: str) -> None:
        while self.memory_bytes > self.budget_bytes and len(self._sessions) > 1:
            oldest = next(iter(self._sessions))
            if oldest == keep:
                break
            del self._sessions[oldest]
