"""The language server: one pygls server object and one small handler per LSP method.

A keystroke arrives as textDocument/didChange (pygls keeps the document) and then
textDocument/inlineCompletion; the engine runs in a worker thread on that
document's warm session, and an answer whose document changed meanwhile is
dropped rather than shown stale.

After answering, while the document stays as that request saw it, the server does the
engine's idle work for the next keystroke (Session.prepare: running ahead of the
window's move, the suggestions after the likeliest next characters), a few tokens a
call, on a thread of its own, so that the next keystroke finds them run.

Besides LSP, the server answers one request of its own, ttcc/status (no params), for
monitoring and tests: {"documents": open documents, "sessions": engine sessions held,
"sessionMemoryBytes": their memory, "requestsInFlight": requests not answered yet,
"models": names of the models loaded, "preparing": documents with idle work running,
"preparedTokens": tokens run by idle work so far}."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from ttcc import __version__
from ttcc.engine import Model
from ttcc.languages import BASE_MODEL, language_of
from ttcc.server.completion import Cursor, completion_item, cursor_at, inline_item
from ttcc.server.memory_text import MemoryTexts, memory_group
from ttcc.server.models import AdaptedStore, ModelStore
from ttcc.server.pygls_compat import Protocol, requests_in_flight, serve_stdio
from ttcc.server.sessions import DocumentSession, SessionPool
from ttcc.server.settings import Settings, update

log = logging.getLogger(__name__)

# Sent after each suggestion the client gets, for status displays:
# {"uri", "model": the model file's name, "milliseconds": the engine's time}.
SUGGESTION_NOTIFICATION = "ttcc/suggestion"
STATUS_REQUEST = "ttcc/status"  # see the module's docstring


def _file_path(uri: str) -> Path | None:
    """The local path of a file: URI, else None."""
    parsed = urlparse(uri)
    if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
        return None
    return Path(unquote(parsed.path))


def document_key(uri: str) -> str:
    """What pygls files an open document under: its URI unescaped ("my%20file.py" is
    "my file.py"). The session pool and the document memory use the same key, so that
    a URI written either way names the same document everywhere."""
    return unquote(uri)


class CompletionServer(LanguageServer):
    def __init__(self, settings: Settings) -> None:
        super().__init__("ttcc", __version__, protocol_cls=Protocol)
        self.settings = settings
        self.models = ModelStore(settings.models_dir)
        self.adapted = AdaptedStore(settings.adapted_dir)
        self.sessions = SessionPool(settings.memory_budget_mb << 20)
        self.memory_texts = MemoryTexts()
        self.preparing: dict[str, asyncio.Task] = {}  # by document key
        self.prepared_tokens = 0
        self.completing = 0  # suggestions being computed: idle work gives way to them
        # Idle work takes one thread: at most one core, and fewer threads' memory pools
        # (each thread that allocates gets its own in glibc).
        self.idle_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ttcc-idle")

    def start_io(self) -> None:
        """Serve LSP on stdin/stdout (pygls_compat.serve_stdio: faster than pygls's own)."""
        try:
            asyncio.run(serve_stdio(self, log))
        except BrokenPipeError:
            log.error("the client closed the connection")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()

    def apply_settings(self, sent: object) -> None:
        settings, problems = update(self.settings, sent)
        self.settings = settings
        self.sessions.budget_bytes = settings.memory_budget_mb << 20
        for problem in problems:
            self.show(types.MessageType.Warning, problem)

    def show(self, kind: types.MessageType, message: str) -> None:
        log.warning("%s", message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=f"ttcc: {message}"))

    def model_for(self, language_id: str | None, uri: str) -> tuple[Model | None, Path | None]:
        """The document's model and, when it was adapted to the project the document is
        in, that project's folder: the adapted model, else the language's shipped model,
        else the base model (for unknown languages only when the settings say so, and when
        a language's own file is unavailable)."""
        language = language_of(language_id, uri)
        path = _file_path(uri)
        if language in self.settings.enabled_languages and path is not None:
            model, project, problem = self.adapted.get(path, language)
            if problem is not None:
                self.show(types.MessageType.Warning, f"{problem}; using the shipped model")
            if model is not None:
                return model, project
        if language is None:
            names = [BASE_MODEL] if self.settings.unknown_languages == "base" else []
        elif language in self.settings.enabled_languages:
            names = [language, BASE_MODEL]
        else:
            names = []
        model, problems = None, []
        for name in names:
            model, problem = self.models.get(name)
            if problem is not None:
                problems.append((name, problem))
            if model is not None:
                break
        # A damaged file is said even when the base model stands in, a missing one only
        # when no model serves the document; the store hands out each problem once.
        said = [problem for name, problem in problems if model is None or self.models.exists(name)]
        if said:
            self.show(types.MessageType.Error, f"{'; '.join(said)}. Fix: {self.models.fix()}.")
        return model, None

    async def suggest(self, uri: str, position: types.Position) -> tuple[str, Cursor] | None:
        """The engine's suggestion at position, or None (nothing to say, or stale)."""
        key = document_key(uri)
        # Only documents the client opened: pygls's get_text_document would read others
        # from disk.
        document = self.workspace.text_documents.get(key)
        if document is None or not self.settings.enabled:
            return None
        model, project = self.model_for(document.language_id, uri)
        if model is None:
            return None
        version = document.version
        if self.settings.debounce_ms:
            await asyncio.sleep(self.settings.debounce_ms / 1000)
            if not self.unchanged(key, document, version):
                return None
        cursor = cursor_at(document, position)
        if cursor is None:
            return None
        entry = self.sessions.get(key, model)
        options = completion_options(self.settings, self.memory_text_for(key))
        started = time.perf_counter()
        self.completing += 1
        try:
            text = await asyncio.to_thread(self._complete, entry, cursor, options)
        finally:
            self.completing -= 1
        if not self.unchanged(key, document, version):
            return None
        self.prepare_while_idle(key, document, version, entry, cursor, options)
        if not text:
            return None
        self.protocol.notify(SUGGESTION_NOTIFICATION, {
            "uri": uri,
            "model": Path(model.name).name,
            "adaptedTo": None if project is None else str(project),
            "milliseconds": round(1000 * (time.perf_counter() - started), 2),
        })
        return text, cursor

    def prepare_while_idle(self, key: str, document: TextDocument, version: int | None,
                           entry: DocumentSession, cursor: Cursor, options: dict) -> None:
        """Starts the idle work after a request answered with options at cursor, in place
        of any earlier for the document. It stops, between calls of a few tokens, once the
        document changes or a suggestion is being computed (for any document: the idle
        work would slow it down, two cores being common)."""
        earlier = self.preparing.pop(key, None)
        if earlier is not None:
            earlier.cancel()
        task = asyncio.create_task(self._prepare(key, document, version, entry, cursor, options))
        self.preparing[key] = task
        task.add_done_callback(
            lambda done: self.preparing.pop(key) if self.preparing.get(key) is done else None
        )

    async def _prepare(self, key: str, document: TextDocument, version: int | None,
                       entry: DocumentSession, cursor: Cursor, options: dict) -> None:
        try:
            while self.unchanged(key, document, version) and not self.completing:
                ran = await asyncio.get_running_loop().run_in_executor(
                    self.idle_worker, self._prepare_some, entry, cursor, options
                )
                if not ran:
                    return
                self.prepared_tokens += ran
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("idle work failed for %s", key)

    @staticmethod
    def _prepare_some(entry: DocumentSession, cursor: Cursor, options: dict) -> int:
        with entry.lock:
            return entry.session.prepare(cursor.prefix, cursor.suffix, **options)

    def memory_text_for(self, key: str) -> str:
        """The other open documents of the document's language, when the settings want
        them; key: the document's document_key."""
        if not (self.settings.document_memory and self.settings.memory_from_open_documents):
            return ""
        documents = self.workspace.text_documents
        return self.memory_texts.text_for(key, lambda other: documents[other].source)

    def status(self) -> dict:
        return {
            "documents": len(self.workspace.text_documents),
            "sessions": len(self.sessions),
            "sessionMemoryBytes": self.sessions.memory_bytes,
            # Not counting this one: a synchronous handler's request is never filed there.
            "requestsInFlight": requests_in_flight(self.protocol),
            "models": self.models.loaded,
            "preparing": len(self.preparing),
            "preparedTokens": self.prepared_tokens,
        }

    def unchanged(self, key: str, document: TextDocument, version: int | None) -> bool:
        """Whether document is still open and at version: neither edited nor closed (and
        perhaps reopened, as a new document whose versions may count from 1 again)."""
        return self.workspace.text_documents.get(key) is document and document.version == version

    @staticmethod
    def _complete(entry: DocumentSession, cursor: Cursor, options: dict) -> str:
        with entry.lock:
            return entry.session.complete(cursor.prefix, cursor.suffix, **options)


def completion_options(settings: Settings, memory_text: str) -> dict:
    """Session.complete's options (and Session.prepare's after it) under settings."""
    return {
        "multiline": settings.multiline,
        "max_chars": settings.max_chars,
        "min_confidence": settings.min_confidence,
        "document_memory": settings.document_memory,
        "memory_text": memory_text,
    }


def create_server(settings: Settings) -> CompletionServer:
    server = CompletionServer(settings)

    @server.feature(types.INITIALIZE)
    def initialize(ls: CompletionServer, params: types.InitializeParams) -> None:
        ls.apply_settings(params.initialization_options)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(
        ls: CompletionServer, params: types.DidChangeConfigurationParams
    ) -> None:
        ls.apply_settings(params.settings)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: CompletionServer, params: types.DidOpenTextDocumentParams) -> None:
        document = params.text_document
        group = memory_group(document.language_id, document.uri)
        ls.memory_texts.opened(document_key(document.uri), group)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: CompletionServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.memory_texts.changed(document_key(params.text_document.uri))

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: CompletionServer, params: types.DidCloseTextDocumentParams) -> None:
        key = document_key(params.text_document.uri)
        ls.sessions.drop(key)
        ls.memory_texts.closed(key)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: CompletionServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        found = await _suggest_safely(ls, params.text_document.uri, params.position)
        if found is None:
            return None
        return types.InlineCompletionList(items=[inline_item(*found)])

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions())
    async def completion(
        ls: CompletionServer, params: types.CompletionParams
    ) -> types.CompletionList:
        found = await _suggest_safely(ls, params.text_document.uri, params.position)
        items = [] if found is None else [completion_item(*found)]
        return types.CompletionList(is_incomplete=True, items=items)

    @server.feature(STATUS_REQUEST)
    def status(ls: CompletionServer, params: object) -> dict:
        return ls.status()

    return server


async def _suggest_safely(
    ls: CompletionServer, uri: str, position: types.Position
) -> tuple[str, Cursor] | None:
    """ls.suggest, with any failure logged and answered with nothing: one bad document
    must not take the others down."""
    try:
        return await ls.suggest(uri, position)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("completion failed for %s at %s", uri, position)
        return None
