"""Everything ttcc's server takes from pygls's internals, in one place, for the pygls
release it was written for (pyproject.toml pins it): a document whose lines are LSP's,
a protocol that does not leak a future per notification, a faster stdio loop, and the
count of requests in flight. A newer pygls means reading each of these again."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from importlib.metadata import version

from lsprotocol import types
from pygls.io_ import StdinAsyncReader, StdoutWriter, run_async
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.workspace import TextDocument, Workspace

from ttcc.server.completion import lsp_lines

WRITTEN_FOR = "2.1."
if not version("pygls").startswith(WRITTEN_FOR):
    raise ImportError(
        f"ttcc's server works around internals of pygls {WRITTEN_FOR}x, not pygls "
        f"{version('pygls')}: install ttcc's pinned pygls (pip install 'pygls>=2.1,<2.2')"
    )


class Document(TextDocument):
    """pygls's document with its lines as LSP counts them (pygls splits them with
    str.splitlines): pygls applies the client's edits by these lines, and cursor_at
    finds the cursor by them."""

    @property
    def lines(self) -> tuple[str, ...]:
        return lsp_lines(self.source)


class DocumentWorkspace(Workspace):
    """pygls's workspace, holding Documents."""

    def _create_text_document(self, doc_uri, source=None, version=None, language_id=None):
        return Document(
            doc_uri,
            source=source,
            version=version,
            language_id=language_id,
            sync_kind=self._sync_kind,
            position_codec=self._position_codec,
        )


class Protocol(LanguageServerProtocol):
    """pygls's protocol, with a DocumentWorkspace and without a leak."""

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams):
        result = yield from super().lsp_initialize(params)
        # pygls made its Workspace in there, and no document is open yet: a
        # DocumentWorkspace adds no state to it.
        self._workspace.__class__ = DocumentWorkspace
        return result

    def _execute_handler(self, msg_id, handler, callback, args=None, kwargs=None):
        # pygls 2.1 files the future of every message that one of its own generator
        # handlers takes (didOpen, didChange, didClose...) in _request_futures, under a
        # fresh id for a notification, and takes out only those of requests, when it
        # answers them: some 3 KB a keystroke, kept for good.
        def done(future):
            if self._request_futures.get(msg_id) is future:
                del self._request_futures[msg_id]
            callback(future)

        super()._execute_handler(msg_id, handler, done, args, kwargs)


def requests_in_flight(protocol: LanguageServerProtocol) -> int:
    """Requests received and not answered yet (a synchronous handler's never counts)."""
    return len(protocol._request_futures)


async def serve_stdio(server: LanguageServer, log: logging.Logger) -> None:
    """Serve LSP on stdin/stdout until the server shuts down.

    pygls's own start_io hands every header line and body it reads to a worker thread;
    those thread switches cost each keystroke about a millisecond. Here a pipe is read
    by asyncio itself; anything else (a file) by pygls's reader."""
    reader: asyncio.StreamReader | StdinAsyncReader = asyncio.StreamReader()
    protocol = asyncio.StreamReaderProtocol(reader)
    try:
        await asyncio.get_running_loop().connect_read_pipe(lambda: protocol, sys.stdin)
    except ValueError:  # not a pipe, socket or terminal
        reader = StdinAsyncReader(sys.stdin.buffer, server.thread_pool)
    server._stop_event = threading.Event()  # what pygls's shutdown() sets to stop
    server.protocol.set_writer(StdoutWriter(sys.stdout.buffer))
    await run_async(
        stop_event=server._stop_event,
        reader=reader,
        protocol=server.protocol,
        logger=log,
        error_handler=server.report_server_error,
    )
