"""From an LSP document and cursor to the engine's input, and from the engine's
suggestion back to LSP items. Only text moves here; what is suggested is the
engine's business."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lsprotocol import types
from pygls.workspace import TextDocument

from ttcc.engine import retyped_length

_WORD_BEFORE = re.compile(r"[A-Za-z0-9_$]*\Z")
_LSP_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


@dataclass(frozen=True)
class Cursor:
    prefix: str  # the document before the cursor
    suffix: str  # the document after the cursor
    position: types.Position  # where the cursor is, in the client's units

    @property
    def line_before(self) -> str:
        return self.prefix[self.prefix.rfind("\n") + 1 :]


def cursor_at(document: TextDocument, position: types.Position) -> Cursor | None:
    """The text around position, or None when the position is not in the document.

    A character past the end of its line means the end of the line (LSP's rule);
    a line past the last one is refused. Lines are pygls's, so that positions mean
    what they meant when pygls applied the client's edits."""
    lines = document.lines
    text = document.source
    last_line = len(lines) if (not text or text.endswith(("\n", "\r"))) else len(lines) - 1
    if position.line < 0 or position.character < 0 or position.line > last_line:
        return None
    line = lines[position.line] if position.line < len(lines) else ""
    content = line.rstrip("\r\n")
    offset = sum(map(len, lines[: position.line])) + code_points(content, position.character)
    return Cursor(text[:offset], text[offset:], position)


def lsp_lines(text: str) -> tuple[str, ...]:
    """text's lines, each with its end, as LSP counts them: a line ends at "\\n", "\\r\\n"
    or "\\r" only. str.splitlines, faster, also ends lines at "\\v", "\\f", "\\x1c" to
    "\\x1e", U+0085, U+2028 and U+2029; its lines serve when the count of their ends
    says it found no others (one that ends the text splits nothing off)."""
    lines = text.splitlines(True)
    lsp_ends = text.count("\n") + text.count("\r") - text.count("\r\n")
    ends = len(lines) - (bool(lines) and not lines[-1].endswith(("\n", "\r")))
    return tuple(lines) if ends == lsp_ends else tuple(_LSP_LINE.findall(text))


def code_points(line: str, utf16_units: int) -> int:
    """How many characters of line the first utf16_units UTF-16 code units cover."""
    if line.isascii():
        return min(utf16_units, len(line))
    units = 0
    for index, character in enumerate(line):
        if units >= utf16_units:
            return index
        units += 2 if ord(character) > 0xFFFF else 1
    return len(line)


def utf16_length(text: str) -> int:
    return len(text) + sum(ord(c) > 0xFFFF for c in text)


def _shifted(position: types.Position, characters: str, sign: int = 1) -> types.Position:
    return types.Position(position.line, position.character + sign * utf16_length(characters))


def inline_item(suggestion: str, cursor: Cursor) -> types.InlineCompletionItem:
    """Ghost text at the cursor; it replaces what it types again after the cursor."""
    retyped = cursor.suffix[: retyped_length(suggestion, cursor.suffix)]
    end = _shifted(cursor.position, retyped)
    return types.InlineCompletionItem(
        insert_text=suggestion, range=types.Range(start=cursor.position, end=end)
    )


def completion_item(suggestion: str, cursor: Cursor) -> types.CompletionItem:
    """The fallback for clients without inline completion: one item that starts at
    the word being typed (so the client's filtering keeps it) and ends like the
    inline item."""
    word = _WORD_BEFORE.search(cursor.line_before).group()
    retyped = cursor.suffix[: retyped_length(suggestion, cursor.suffix)]
    text = word + suggestion
    edit_range = types.Range(
        start=_shifted(cursor.position, word, -1), end=_shifted(cursor.position, retyped)
    )
    first_line = text.split("\n", 1)[0]
    return types.CompletionItem(
        label=first_line if len(first_line) <= 60 else first_line[:59] + "…",
        kind=types.CompletionItemKind.Text,
        detail="ttcc",
        filter_text=text,
        sort_text="0",
        text_edit=types.TextEdit(range=edit_range, new_text=text),
        insert_text_format=types.InsertTextFormat.PlainText,
    )
