"""Python API of the C engine (engine_c), loaded through cffi.

Python only moves text in and out: the prompt layout, reuse of earlier work,
decoding and its stop rules all live in the engine.

    model = Model.load(ttcc.shipped_models_dir() / "python.ttc")
    session = model.session()          # one per document
    session.complete("def add(a, b):\\n    return ")
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from ttcc._engine import ffi, lib

__all__ = [
    "MAX_SUGGESTION",
    "MEMORY_TEXT_BYTES",
    "DEFAULT_OPTIONS",
    "ENGINE_VERSION",
    "EngineError",
    "Model",
    "ModelError",
    "ModelInfo",
    "Session",
    "retyped_length",
]

ENGINE_VERSION: str = ffi.string(lib.ttc_version()).decode()  # ttc.h's TTC_VERSION_*
MAX_SUGGESTION: int = lib.TTC_MAX_SUGGESTION
# The document memory reads at most this many bytes (UTF-8) of memory_text.
MEMORY_TEXT_BYTES: int = lib.TTC_MEMORY_TEXT_BYTES



# Session.complete's multiline: False (to the end of the line), True (to the end of the
# block) or "auto" (the block right after a block opener, else the line); ttc.h.
_MULTILINE_MODES = {False: lib.TTC_MULTILINE_OFF, True: lib.TTC_MULTILINE_BLOCK,
                    "auto": lib.TTC_MULTILINE_AUTO}
_MULTILINE_NAMES = {mode: name for name, mode in _MULTILINE_MODES.items()}


def _default_options() -> dict[str, Any]:
    options = ffi.new("ttc_complete_options *")
    lib.ttc_complete_options_init(options)
    return {
        "multiline": _MULTILINE_NAMES[options.multiline],
        "max_chars": options.max_chars,
        "min_confidence": round(options.min_confidence, 6),  # 0.6, not float32's 0.6000000238
        "document_memory": bool(options.document_memory),
    }


# The engine's defaults (ttc_complete_options_init): what editors get unless their user
# changes them, what Session.complete uses for an option left out, what the evaluation
# measures.
DEFAULT_OPTIONS: dict[str, Any] = _default_options()

_KV_PRECISIONS = {"int8": lib.TTC_KV_INT8, "f32": lib.TTC_KV_F32}


class ModelError(ValueError):
    """A model file that cannot be used; the message names the file and the problem."""


class EngineError(RuntimeError):
    """The engine refused a call (bad options, out of memory)."""


def _message(status: int) -> str:
    return ffi.string(lib.ttc_strerror(status)).decode()


def _check(status: int) -> None:
    if status != lib.TTC_OK:
        error = ValueError if status == lib.TTC_ERR_INVALID_ARGUMENT else EngineError
        raise error(_message(status))


def _utf8(text: str) -> bytes:
    # surrogatepass: a lone surrogate is still one character (one UNK token).
    return text.encode("utf-8", "surrogatepass")


def retyped_length(suggestion: str, suffix: str) -> int:
    """How many characters right after the cursor the suggestion types again (the
    engine's rule: the longest start of the rest of the line it ends with)."""
    head = _utf8(suffix[: len(suggestion)])  # it can retype no more than itself
    return lib.ttc_retyped_length(suggestion.encode("ascii"), len(suggestion), head, len(head))


@dataclass(frozen=True)
class ModelInfo:
    dim: int
    hidden_dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int
    window: int
    group_size: int
    tied_classifier: bool
    parameters: int
    file_size: int


class Model:
    """Read-only weights, shared by any number of sessions."""

    def __init__(self, handle: Any, name: str) -> None:
        self._handle = handle
        self.name = name
        info = ffi.new("ttc_model_info *")
        lib.ttc_model_get_info(handle, info)
        self.info = ModelInfo(
            dim=info.dim,
            hidden_dim=info.hidden_dim,
            n_layers=info.n_layers,
            n_heads=info.n_heads,
            n_kv_heads=info.n_kv_heads,
            vocab_size=info.vocab_size,
            window=info.window,
            group_size=info.group_size,
            tied_classifier=bool(info.tied_classifier),
            parameters=info.parameters,
            file_size=info.file_size,
        )
        self._scoring_session: Session | None = None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Model:
        try:
            with open(path, "rb") as file:
                data = file.read()
        except OSError as error:
            raise ModelError(f"cannot read model file {os.fspath(path)!r}: {error}") from error
        return cls.from_bytes(data, name=os.fspath(path))

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "<bytes>") -> Model:
        out = ffi.new("ttc_model **")
        status = lib.ttc_model_load(ffi.from_buffer(data), len(data), out)
        if status != lib.TTC_OK:
            raise ModelError(f"{name}: {_message(status)}")
        return cls(ffi.gc(out[0], lib.ttc_model_free), name)

    @property
    def metadata(self) -> dict[str, Any]:
        length = ffi.new("size_t *")
        text = lib.ttc_model_metadata(self._handle, length)
        try:
            parsed = json.loads(ffi.unpack(text, length[0]).decode("utf-8", "replace"))
        except json.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}

    def session(
        self, *, kv_precision: str = "int8", kernels: str | None = None, max_batch: int = 64,
        draft_tokens: int | None = None,
    ) -> Session:
        """A new session (per-document state). kernels=None picks the fastest for this CPU.
        draft_tokens: how many tokens a decoding pass may check at once (the engine's
        default when None; 1: one a pass); suggestions are the same for every value."""
        if kv_precision not in _KV_PRECISIONS:
            raise ValueError(f"kv_precision must be one of {sorted(_KV_PRECISIONS)}")
        return Session(self, _KV_PRECISIONS[kv_precision], kernels, max_batch, draft_tokens)

    def logprobs(self, text: str, *, document_memory: bool = True) -> list[float]:
        """Natural-log probability of each character of text given what precedes it (after BOS).

        One value per character ("\\r\\n" counts as one). With document_memory, what
        followed earlier occurrences of the context in text is blended in, as when
        completing."""
        return self._scorer().logprobs(text, document_memory=document_memory)

    def memory_features(self, text: str) -> list[list[float]]:
        """Per character, what the document memory saw (ttc_session_memory_features):
        [model p, memory p, match length, votes, model top p, memory top share]."""
        return self._scorer().memory_features(text)

    def _scorer(self) -> Session:
        if self._scoring_session is None:
            self._scoring_session = self.session()
        return self._scoring_session


class Session:
    """The state of one document. Not thread-safe: use one thread at a time."""

    def __init__(self, model: Model, kv_precision: int, kernels: str | None, max_batch: int,
                 draft_tokens: int | None = None):
        self.model = model  # keeps the weights alive as long as the session
        options = ffi.new("ttc_session_options *")
        lib.ttc_session_options_init(options)
        options.kv_precision = kv_precision
        options.max_batch = max_batch
        if draft_tokens is not None:
            options.draft_tokens = draft_tokens
        kernel_name = ffi.new("char[]", kernels.encode()) if kernels else ffi.NULL
        options.kernels = kernel_name
        out = ffi.new("ttc_session **")
        status = lib.ttc_session_create(model._handle, options, out)
        if status == lib.TTC_ERR_UNSUPPORTED:
            raise EngineError(f"kernels {kernels!r} are not available on this CPU")
        _check(status)
        self._handle = ffi.gc(out[0], lib.ttc_session_free)
        self._output = ffi.new("char[]", lib.TTC_MAX_SUGGESTION + 1)
        self._output_length = ffi.new("size_t *")
        # The last memory_text and its UTF-8: a caller passes the same text keystroke
        # after keystroke (the server: the other open documents, up to 256 KiB), and
        # encoding it again each time costs ~0.25 ms when it is not all ASCII.
        self._memory_text = ""
        self._memory_text_bytes = b""

    def complete(
        self,
        prefix: str,
        suffix: str = "",
        *,
        multiline: bool | str | None = None,
        max_chars: int | None = None,
        min_confidence: float | None = None,
        document_memory: bool | None = None,
        memory_text: str = "",
    ) -> str:
        """The suggested text to insert between prefix and suffix ("" when none). An
        option left out (None) is the engine's default (DEFAULT_OPTIONS).

        multiline: False ends the suggestion with its line, True with the enclosing block,
        "auto" with the block right after a block opener and with the line elsewhere.
        document_memory blends in what followed earlier occurrences of the text before
        the cursor in the document and in memory_text (e.g. other open files)."""
        options, memory_buffer = self._options(multiline, max_chars, min_confidence,
                                               document_memory, memory_text)
        prefix_bytes, suffix_bytes = _utf8(prefix), _utf8(suffix)
        _check(lib.ttc_session_complete(
            self._handle, prefix_bytes, len(prefix_bytes), suffix_bytes, len(suffix_bytes),
            options, self._output, lib.TTC_MAX_SUGGESTION + 1, self._output_length))
        return ffi.unpack(self._output, self._output_length[0]).decode("ascii")

    def prepare(
        self,
        prefix: str,
        suffix: str = "",
        *,
        max_tokens: int = lib.TTC_PREPARE_TOKENS,
        multiline: bool | str | None = None,
        max_chars: int | None = None,
        min_confidence: float | None = None,
        document_memory: bool | None = None,
        memory_text: str = "",
    ) -> int:
        """Idle-time work after complete() answered for this document with these options,
        so that the next keystroke runs less (ttc_session_prepare): when the document is
        about to outgrow the model's window, the prompt the next complete() will need
        once it has; then the suggestions after the four likeliest next characters (the
        suggestion's first, when one was shown, and three others). Runs up to max_tokens
        tokens a call and returns how many ran (0: nothing left to do). Suggestions are
        the same with or without it; the caches it runs in take up to four times the
        session's cache memory more."""
        if max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        options, memory_buffer = self._options(multiline, max_chars, min_confidence,
                                               document_memory, memory_text)
        prefix_bytes, suffix_bytes = _utf8(prefix), _utf8(suffix)
        run = ffi.new("size_t *")
        _check(lib.ttc_session_prepare(self._handle, prefix_bytes, len(prefix_bytes),
                                       suffix_bytes, len(suffix_bytes), options, max_tokens,
                                       run))
        return run[0]

    def stop_features(
        self,
        prefix: str,
        suffix: str = "",
        *,
        multiline: bool | str | None = None,
        max_chars: int | None = None,
        document_memory: bool | None = None,
        memory_text: str = "",
    ) -> tuple[str, list[list[float]]]:
        """The greedy suggestion run to the end of its line (or block) or max_chars,
        ignoring every confidence rule, and the stop rule's features of each of its
        characters (ttc_session_stop_features): what training.fit_stop learns from."""
        options, memory_buffer = self._options(multiline, max_chars, None, document_memory,
                                               memory_text)
        width = lib.TTC_STOP_FEATURES
        features = ffi.new("float[]", options.max_chars * width)
        prefix_bytes, suffix_bytes = _utf8(prefix), _utf8(suffix)
        _check(lib.ttc_session_stop_features(
            self._handle, prefix_bytes, len(prefix_bytes), suffix_bytes, len(suffix_bytes),
            options, self._output, lib.TTC_MAX_SUGGESTION + 1, self._output_length, features))
        length = self._output_length[0]
        flat = ffi.unpack(features, length * width)
        text = ffi.unpack(self._output, length).decode("ascii")
        return text, [flat[i * width : (i + 1) * width] for i in range(length)]

    def _options(self, multiline: bool | str | None, max_chars: int | None,
                 min_confidence: float | None, document_memory: bool | None,
                 memory_text: str) -> tuple[Any, Any]:
        """The engine's options from its defaults and the arguments given, and the
        buffer memory_text points into (keep it alive during the call)."""
        options = ffi.new("ttc_complete_options *")
        lib.ttc_complete_options_init(options)
        if multiline is not None:
            if multiline not in _MULTILINE_MODES:
                raise ValueError('multiline must be False, True or "auto"')
            options.multiline = _MULTILINE_MODES[multiline]
        if max_chars is not None:
            if not 1 <= max_chars <= lib.TTC_MAX_SUGGESTION:
                raise ValueError(f"max_chars must be in 1..{lib.TTC_MAX_SUGGESTION}")
            options.max_chars = max_chars
        if min_confidence is not None:
            if not 0.0 <= min_confidence <= 1.0:
                raise ValueError("min_confidence must be in [0, 1]")
            options.min_confidence = min_confidence
        if document_memory is not None:
            options.document_memory = int(document_memory)
        if memory_text != self._memory_text:  # the same object: no comparison at all
            self._memory_text, self._memory_text_bytes = memory_text, _utf8(memory_text)
        # A view of the bytes, not a copy (up to 256 KiB a keystroke).
        memory_buffer = ffi.from_buffer("char[]", self._memory_text_bytes)
        options.memory_text = memory_buffer
        options.memory_text_length = len(self._memory_text_bytes)
        return options, memory_buffer

    @property
    def forwarded_tokens(self) -> int:
        """Tokens run through the model by this session so far."""
        return lib.ttc_session_forwarded_tokens(self._handle)

    @property
    def memory_bytes(self) -> int:
        """Memory the session holds: its KV cache, logits and scratch."""
        return lib.ttc_session_memory(self._handle)

    @property
    def kernels(self) -> str:
        """Name of the kernel set this session computes with."""
        return ffi.string(lib.ttc_session_kernels(self._handle)).decode()

    def logprobs(self, text: str, *, document_memory: bool = True) -> list[float]:
        data = _utf8(text)
        values = ffi.new("float[]", max(len(data), 1))
        count = ffi.new("size_t *")
        _check(lib.ttc_session_logprobs(self._handle, data, len(data), int(document_memory),
                                        values, len(data), count))
        return ffi.unpack(values, count[0])

    def memory_features(self, text: str) -> list[list[float]]:
        data = _utf8(text)
        width = lib.TTC_MEMORY_FEATURES
        values = ffi.new("float[]", max(len(data), 1) * width)
        count = ffi.new("size_t *")
        _check(lib.ttc_session_memory_features(self._handle, data, len(data), values,
                                               len(data), count))
        flat = ffi.unpack(values, count[0] * width)
        return [flat[i * width : (i + 1) * width] for i in range(count[0])]

    def logits(self, tokens: list[int], rows: int | None = None) -> list[list[float]]:
        """Logits after each of the last `rows` tokens (default: all), running tokens
        (0..vocab-1) from position 0 and reusing what the session already ran."""
        vocab = self.model.info.vocab_size
        rows = len(tokens) if rows is None else rows
        values = ffi.new("float[]", max(rows, 1) * vocab)
        _check(lib.ttc_session_logits(self._handle, tokens, len(tokens), values, rows))
        flat = ffi.unpack(values, rows * vocab)
        return [flat[i * vocab : (i + 1) * vocab] for i in range(rows)]
