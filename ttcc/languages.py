"""Which model serves a document: by LSP languageId, else by file extension.

Model files live in the models directory as NAME.ttc, one per language plus the
multi-language base (base.ttc)."""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import urlparse

BASE_MODEL = "base"
LANGUAGES = (
    "c",
    "cpp",
    "go",
    "java",
    "javascript",
    "kotlin",
    "php",
    "python",
    "rust",
    "typescript",
)

_BY_LANGUAGE_ID = {
    **{name: name for name in LANGUAGES},
    "c++": "cpp",
    "cuda-cpp": "cpp",
    "objective-cpp": "cpp",
    "javascriptreact": "javascript",
    "typescriptreact": "typescript",
    "golang": "go",
}

_BY_EXTENSION = {
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".c++": "cpp",
    ".hh": "cpp",
    ".hpp": "cpp",
    ".hxx": "cpp",
    ".ipp": "cpp",
    ".tcc": "cpp",
    ".go": "go",
    ".java": "java",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".kt": "kotlin",
    ".kts": "kotlin",
    ".php": "php",
    ".py": "python",
    ".pyi": "python",
    ".pyw": "python",
    ".rs": "rust",
    ".ts": "typescript",
    ".tsx": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
}


def language_of(language_id: str | None, uri: str) -> str | None:
    """One of LANGUAGES for this document, or None when it is none of them."""
    if language_id and language_id.lower() in _BY_LANGUAGE_ID:
        return _BY_LANGUAGE_ID[language_id.lower()]
    suffix = PurePosixPath(urlparse(uri).path).suffix.lower()
    return _BY_EXTENSION.get(suffix)
