"""Build the training corpus: fetch real source code, filter it, split it and pack it.

    python -m training.corpus fetch [--languages c,go]
    python -m training.corpus build [--languages c,go] [--max-mb N] [--out data/corpus]
    python -m training.corpus build --dir PATH --language NAME
    python -m training.corpus build --parquet 'shards/*.parquet' --language NAME
    python -m training.corpus pack [--out data/corpus] [--archive data/corpus.tar.xz]

Sources are listed, with pinned versions, in `training/recipe.toml`: Debian packages
(`apt-get download` + `dpkg-deb -x`), npm packages (`npm pack`), PyPI wheels
(`pip download --no-deps`), the running interpreter's standard library, local
directories and The Stack's parquet shards. Downloads and extractions are cached under
`data/cache/`.

Per language, files go through these filters, each counting what it drops:

1. unreadable (an OS error), binary (NUL bytes or not UTF-8), empty (only whitespace);
2. size and longest line outside the 1st..95th percentile of that language's readable
   files (the percentile is an actual file's value, so the bounds are inclusive);
3. exact duplicates (same text after CRLF -> LF and stripping trailing whitespace) and
   near-exact duplicates (same text once all whitespace is removed); the first file in
   recipe order is kept. Dedup runs before parsing because parsing is the costly step;
4. files that do not parse: Python with `ast.parse`; the other languages with
   tree-sitter, where a file fails when the bytes inside ERROR nodes (plus one per
   MISSING node) exceed `max_error_share` of the file (per language, in the recipe).

Kept files are visited in a deterministic hash order (which mixes sources) and, with
`--max-mb`, taken until the cap is reached. A second, independent content hash sends
`val_fraction` of the files to validation, so a file always lands on the same side.

Output, per language, in `--out`: `train.bin` and `val.bin` (uint8 token streams, each
file `[BOS] + encode(text) + [EOS]`, read with `np.memmap(path, dtype=np.uint8)`),
`val.jsonl` ({"path", "text"} per validation file), `val_files.txt`, and at the top
`summary.json`. Sizes in MB are 10**6 bytes of UTF-8 text.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import glob
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
import tomllib
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from training import tokens

RECIPE = Path(__file__).with_name("recipe.toml")
CACHE = Path("data/cache")
OUT = Path("data/corpus")
STAMP = ".ttcc-source.json"

# File name patterns per language, used for --dir, --parquet and as the recipe default.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "c": ("*.c", "*.h"),
    "cpp": ("*.cc", "*.cpp", "*.cxx", "*.hpp", "*.hh", "*.hxx", "*.h", "*.ipp", "*.tcc"),
    "go": ("*.go",),
    "java": ("*.java",),
    "kotlin": ("*.kt", "*.kts"),
    "php": ("*.php",),
    "python": ("*.py",),
    "rust": ("*.rs",),
    "javascript": ("*.js", "*.mjs", "*.cjs", "*.jsx"),
    "typescript": ("*.ts", "*.tsx", "*.mts", "*.cts"),
}
LANGUAGES = tuple(EXTENSIONS)

# tree-sitter grammar per language: (module, function returning the language pointer).
GRAMMARS: dict[str, tuple[str, str]] = {
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "go": ("tree_sitter_go", "language"),
    "java": ("tree_sitter_java", "language"),
    "kotlin": ("tree_sitter_kotlin", "language"),
    "php": ("tree_sitter_php", "language_php"),
    "rust": ("tree_sitter_rust", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
}

# Drop reasons, in the order the filters run; the table shows them in this order.
DROPS = ("unreadable", "binary", "empty", "size", "longline", "dup", "neardup", "parse")
DEFAULT_EXCLUDE = ("**/.git/**", "**/node_modules/**", "**/__pycache__/**")
SPLIT_SALT = b"ttcc-split"
ORDER_SALT = b"ttcc-order"


class CorpusError(Exception):
    """A problem the user can fix; the CLI prints it as one line and exits with 2."""


class SourceUnavailable(Exception):
    """A source could not be fetched; the build notes it and goes on with the rest."""


# ---------------------------------------------------------------------------- recipe


@dataclass(frozen=True)
class Source:
    """One place code comes from, as one `[[source]]` table of the recipe."""

    name: str  # unique, names the cache folders and prefixes file paths
    language: str  # label of every file taken from it
    kind: str  # apt | npm | pypi | stdlib | dir | parquet
    package: str = ""  # apt / npm / pypi package name
    version: str = ""  # pinned version of that package
    path: str = ""  # dir: the folder; parquet: a glob of shard files
    unpack: tuple[str, ...] = ()  # globs of archives inside the package to unpack too
    root: str = ""  # folder (glob) inside the extraction that the patterns start from
    include: tuple[str, ...] = ()  # file globs (`**/` = any folders); default: EXTENSIONS
    exclude: tuple[str, ...] = ()  # file globs to leave out, on top of DEFAULT_EXCLUDE

    def patterns(self) -> tuple[str, ...]:
        """Include patterns, defaulting to the language's file extensions anywhere."""
        return self.include or tuple("**/" + p for p in EXTENSIONS[self.language])

    def describe(self) -> dict[str, str]:
        """What the summary records about this source."""
        version = self.version or (sys.version.split()[0] if self.kind == "stdlib" else "")
        return {"name": self.name, "kind": self.kind, "package": self.package or self.path,
                "version": version}


@dataclass(frozen=True)
class Settings:
    """Knobs of the filters and the split (`[settings]` in the recipe)."""

    val_fraction: float = 0.02  # share of files (by content hash) sent to validation
    size_percentiles: tuple[float, float] = (1.0, 95.0)  # kept range of file size
    line_percentiles: tuple[float, float] = (1.0, 95.0)  # kept range of longest line
    max_error_share: dict[str, float] = field(default_factory=dict)  # per language

    def error_share(self, language: str) -> float:
        """Largest share of bytes in tree-sitter error nodes a file may have."""
        return self.max_error_share.get(language, self.max_error_share.get("default", 0.0))


@dataclass(frozen=True)
class Recipe:
    settings: Settings
    sources: tuple[Source, ...]


def load_recipe(path: Path = RECIPE) -> Recipe:
    """Read and check the recipe file."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise CorpusError(f"cannot read recipe {path}: {err}") from err
    raw = data.get("settings", {})
    settings = Settings(
        val_fraction=float(raw.get("val_fraction", 0.02)),
        size_percentiles=tuple(raw.get("size_percentiles", (1.0, 95.0))),
        line_percentiles=tuple(raw.get("line_percentiles", (1.0, 95.0))),
        max_error_share=dict(raw.get("max_error_share", {})),
    )
    sources = []
    for table in data.get("source", []):
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}
        try:
            source = Source(**values)
        except TypeError as err:
            raise CorpusError(f"bad [[source]] in {path}: {err}") from err
        check_language(source.language)
        sources.append(source)
    return Recipe(settings, tuple(sources))


def check_language(name: str) -> str:
    """Return the name if it is a known language, else raise a clear error."""
    if name not in EXTENSIONS:
        raise CorpusError(f"unknown language {name!r}; known: {', '.join(LANGUAGES)}")
    return name


# ---------------------------------------------------------------------------- globs


def glob_regex(pattern: str, prefix: bool = False) -> re.Pattern[str]:
    """Compile a path glob: `*`, `?` and `[ch]` stay inside a folder, `**/` spans folders.

    With `prefix`, the pattern matches a leading part of a path and the rest
    (after a slash) is captured as group 1.
    """
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        else:
            char = pattern[i]
            out.append("[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char))
            i += 1
    tail = "/(.*)" if prefix else ""
    return re.compile("".join(out) + tail + r"\Z", re.DOTALL)


class PathFilter:
    """Which relative paths a source takes: any include pattern and no exclude pattern."""

    def __init__(self, include: Iterable[str], exclude: Iterable[str] = ()) -> None:
        self.include = [glob_regex(p) for p in include]
        self.exclude = [glob_regex(p) for p in (*DEFAULT_EXCLUDE, *exclude)]

    def __call__(self, rel: str) -> bool:
        return any(r.match(rel) for r in self.include) and not any(
            r.match(rel) for r in self.exclude
        )


def source_filter(source: Source) -> PathFilter:
    return PathFilter(source.patterns(), source.exclude)


# ---------------------------------------------------------------------------- fetching


def require_tool(tool: str, why: str) -> str:
    """Path of a command-line tool, or a clear error naming what needs it."""
    found = shutil.which(tool)
    if not found:
        raise CorpusError(f"missing tool: {tool} (needed to {why})")
    return found


def run_tool(cmd: list[str], cwd: Path) -> str:
    """Run a fetching command; a failure makes the source unavailable."""
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SourceUnavailable(f"{' '.join(cmd)}: {err}") from err
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["failed"]
        raise SourceUnavailable(f"{' '.join(cmd)}: {last[0]}")
    return done.stdout


def download(source: Source, cache: Path) -> Path:
    """Download the source's package once into the cache and return the file."""
    spec = {"apt": "=", "npm": "@", "pypi": "=="}[source.kind]
    folder = cache / "downloads" / source.kind / f"{source.package}{spec}{source.version}"
    suffix = {"apt": "*.deb", "npm": "*.tgz", "pypi": "*.whl"}[source.kind]
    found = sorted(folder.glob(suffix))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    target = f"{source.package}{spec}{source.version}"
    if source.kind == "apt":
        cmd = [require_tool("apt-get", f"fetch {source.package}"), "download", "-q", target]
    elif source.kind == "npm":
        cmd = [require_tool("npm", f"fetch {source.package}"), "pack", "--silent", target]
    else:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--quiet", "-d", ".", target]
    run_tool(cmd, folder)
    found = sorted(folder.glob(suffix))
    if not found:
        raise SourceUnavailable(f"{target}: nothing was downloaded")
    return found[0]


def stamp_text(source: Source) -> str:
    return json.dumps(asdict(source), sort_keys=True)


def extract(source: Source, cache: Path) -> Path:
    """Download and extract a package source once; return its extraction folder."""
    folder = cache / "extract" / source.name
    stamp = folder / STAMP
    if stamp.is_file() and stamp.read_text() == stamp_text(source):
        return folder
    package = download(source, cache)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if source.kind == "apt":
        tool = require_tool("dpkg-deb", f"extract {package.name}")
        run_tool([tool, "-x", str(package.resolve()), str(folder.resolve())], folder)
    else:
        unpack_archive(package, folder, lambda rel: True)
    keep = root_filter(source)
    for pattern in source.unpack:
        for archive in sorted(folder.glob(pattern)):
            rel = archive.relative_to(folder).as_posix() + ".d"
            unpack_archive(archive, archive.with_name(archive.name + ".d"),
                           lambda member, rel=rel: keep(f"{rel}/{member}"))
            archive.unlink()
    stamp.write_text(stamp_text(source))
    return folder


def root_filter(source: Source) -> Any:
    """A test on paths relative to the extraction: under `root` and taken by the source."""
    take = source_filter(source)
    if not source.root:
        return take
    under = glob_regex(source.root, prefix=True)

    def keep(rel: str) -> bool:
        found = under.match(rel)
        return bool(found) and take(found.group(1))

    return keep


def safe_member(name: str) -> bool:
    """Reject absolute paths and `..` in archive members."""
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts


def unpack_archive(archive: Path, dest: Path, keep: Any) -> int:
    """Unpack the regular files of a tar or zip archive that `keep(member)` accepts."""
    dest.mkdir(parents=True, exist_ok=True)
    count = 0
    desc = f"unpack {archive.name}"
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in tqdm(zf.infolist(), desc=desc, unit="file", leave=False):
                if info.is_dir() or not safe_member(info.filename) or not keep(info.filename):
                    continue
                target = dest / info.filename
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(info))
                count += 1
        return count
    with tarfile.open(archive) as tf:
        for member in tqdm(tf, desc=desc, unit="file", leave=False):
            if not member.isfile() or not safe_member(member.name) or not keep(member.name):
                continue
            target = dest / member.name
            target.parent.mkdir(parents=True, exist_ok=True)
            handle = tf.extractfile(member)
            if handle is not None:
                target.write_bytes(handle.read())
                count += 1
    return count


def source_root(source: Source, cache: Path) -> Path:
    """The folder whose files the source takes (fetching it first if needed)."""
    if source.kind == "stdlib":
        return Path(sysconfig.get_paths()["stdlib"])
    if source.kind == "dir":
        return readable_dir(Path(source.path))
    if source.kind not in ("apt", "npm", "pypi"):
        raise CorpusError(f"source {source.name}: unknown kind {source.kind!r}")
    folder = extract(source, cache)
    if not source.root:
        return folder
    found = sorted(p for p in folder.glob(source.root) if p.is_dir())
    if len(found) != 1:
        raise SourceUnavailable(f"root {source.root!r} matches {len(found)} folders")
    return found[0]


def readable_dir(path: Path) -> Path:
    """The path itself if it is a folder we can list, else a clear error."""
    if not path.is_dir():
        raise CorpusError(f"source directory not found: {path}")
    try:
        next(os.scandir(path), None)
    except OSError as err:
        raise CorpusError(f"cannot read source directory {path}: {err.strerror}") from err
    return path


# ---------------------------------------------------------------------------- reading


@dataclass
class Doc:
    """One candidate file: where it came from and its normalised text."""

    path: str
    text: str
    size: int = 0  # UTF-8 bytes of text
    longest: int = 0  # characters in the longest line


def read_bytes(path: Path) -> bytes:
    """Read a file (a seam for tests)."""
    return path.read_bytes()


def iter_dir(source: Source, root: Path) -> Iterator[tuple[str, bytes | None]]:
    """(relative path, content or None when unreadable) for the files a source takes."""
    take = source_filter(source)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for filename in sorted(filenames):
            full = Path(dirpath, filename)
            rel = full.relative_to(root).as_posix()
            if full.is_symlink() or not take(rel):
                continue
            try:
                yield rel, read_bytes(full)
            except OSError:
                yield rel, None


def iter_parquet(source: Source) -> Iterator[tuple[str, bytes | None]]:
    """(shard#row, content) from The Stack's parquet shards (`content` column)."""
    try:
        import pyarrow.parquet as pq
    except ImportError as err:
        raise CorpusError("reading parquet shards needs pyarrow: pip install pyarrow") from err
    shards = sorted(glob.glob(source.path))
    if not shards:
        raise CorpusError(f"no parquet shards match {source.path}")
    for shard in shards:
        try:
            table = pq.read_table(shard, columns=["content"])
        except (OSError, ValueError) as err:
            raise CorpusError(f"cannot read parquet shard {shard}: {err}") from err
        for row, content in enumerate(table.column("content").to_pylist()):
            data = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
            yield f"{Path(shard).name}#{row}", data


def decode(data: bytes | None) -> tuple[str | None, str]:
    """Normalised text of a file, or None and the reason it is dropped."""
    if data is None:
        return None, "unreadable"
    if b"\0" in data:
        return None, "binary"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, "binary"
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    if not text.strip():
        return None, "empty"
    return text, ""


def read_source(
    source: Source, cache: Path, drops: Counter[str]
) -> Iterator[Doc]:
    """Readable, non-empty documents of one source; the others are counted in drops."""
    if source.kind == "parquet":
        items = iter_parquet(source)
    else:
        items = iter_dir(source, source_root(source, cache))
    for rel, data in tqdm(items, desc=f"read {source.name}", unit="file", leave=False,
                          mininterval=2):
        text, reason = decode(data)
        if text is None:
            drops[reason] += 1
            continue
        yield Doc(f"{source.name}/{rel}", text, len(text.encode("utf-8")),
                  max(map(len, text.split("\n"))))


# ---------------------------------------------------------------------------- filters


def percentile_bounds(values: list[int], low: float, high: float) -> tuple[int, int]:
    """Inclusive (low, high) bounds: the files' own values at those percentiles."""
    if not values:
        return 0, 0
    arr = np.asarray(values)
    return int(np.percentile(arr, low, method="lower")), int(
        np.percentile(arr, high, method="higher")
    )


def drop_outliers(docs: list[Doc], settings: Settings, drops: Counter[str]) -> list[Doc]:
    """Drop files whose size or longest line is outside the percentile range."""
    size_lo, size_hi = percentile_bounds([d.size for d in docs], *settings.size_percentiles)
    line_lo, line_hi = percentile_bounds([d.longest for d in docs], *settings.line_percentiles)
    kept = []
    for doc in docs:
        if not size_lo <= doc.size <= size_hi:
            drops["size"] += 1
        elif not line_lo <= doc.longest <= line_hi:
            drops["longline"] += 1
        else:
            kept.append(doc)
    return kept


def exact_key(text: str) -> bytes:
    """Hash of the text with trailing whitespace of each line and of the file removed."""
    lines = "\n".join(line.rstrip() for line in text.rstrip().split("\n"))
    return hashlib.blake2b(lines.encode("utf-8"), digest_size=16).digest()


def near_key(text: str) -> bytes:
    """Hash of the text with all whitespace removed: equal for re-indented copies."""
    return hashlib.blake2b("".join(text.split()).encode("utf-8"), digest_size=16).digest()


def drop_duplicates(docs: list[Doc], drops: Counter[str]) -> list[Doc]:
    """Keep the first of each group of exact, then near-exact, duplicates."""
    exact: set[bytes] = set()
    near: set[bytes] = set()
    kept = []
    for doc in docs:
        key = exact_key(doc.text)
        if key in exact:
            drops["dup"] += 1
            continue
        exact.add(key)
        nkey = near_key(doc.text)
        if nkey in near:
            drops["neardup"] += 1
            continue
        near.add(nkey)
        kept.append(doc)
    return kept


_PARSERS: dict[str, Any] = {}


def ts_parser(grammar: str) -> Any:
    """A cached tree-sitter parser for a grammar name of GRAMMARS."""
    if grammar not in _PARSERS:
        try:
            import importlib

            import tree_sitter

            module, func = GRAMMARS[grammar]
            language = tree_sitter.Language(getattr(importlib.import_module(module), func)())
        except ImportError as err:
            raise CorpusError(
                f"parsing {grammar} needs {err.name}: pip install -e '.[train]'"
            ) from err
        _PARSERS[grammar] = tree_sitter.Parser(language)
    return _PARSERS[grammar]


def error_bytes(node: Any) -> int:
    """Bytes covered by ERROR nodes under node, plus one per MISSING node."""
    total, stack = 0, [node]
    while stack:
        current = stack.pop()
        if current.is_error:
            total += current.end_byte - current.start_byte
        elif current.is_missing:
            total += 1
        else:
            stack.extend(child for child in current.children if child.has_error)
    return total


def error_share(text: str, language: str, path: str = "") -> float:
    """Share of the file the parser could not make sense of (0.0 parses, 1.0 fails)."""
    if language == "python":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return 1.0
        return 0.0
    grammar = "tsx" if language == "typescript" and path.endswith(".tsx") else language
    data = text.encode("utf-8")
    root = ts_parser(grammar).parse(data).root_node
    if not root.has_error:
        return 0.0
    return min(1.0, error_bytes(root) / max(1, len(data)))


def parses(text: str, language: str, max_share: float, path: str = "") -> bool:
    """Whether a file parses: Python strictly, tree-sitter within max_share errors."""
    share = error_share(text, language, path)
    if language == "python":
        return share == 0.0
    return share <= max_share


# ---------------------------------------------------------------------------- split & pack


def unit_hash(text: str, salt: bytes) -> float:
    """A number in [0, 1) fixed by the file's content and the salt."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8, key=salt).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def is_validation(text: str, fraction: float) -> bool:
    """Deterministic split: the same content always lands on the same side."""
    return unit_hash(text, SPLIT_SALT) < fraction


_LUT = np.full(128, tokens.UNK, dtype=np.uint8)
_LUT[[9, 10, *range(32, 127)]] = [9, 10, *range(32, 127)]


def to_tokens(text: str) -> np.ndarray:
    """Vectorised tokens.encode(text) (CRLF -> LF, other characters -> UNK) as uint8."""
    text = text.replace("\r\n", "\n")
    if text.isascii():
        codes = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
        return _LUT[codes]
    codes32 = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    out = np.full(codes32.shape, tokens.UNK, dtype=np.uint8)
    small = codes32 < 128
    out[small] = _LUT[codes32[small]]
    return out


def packed(text: str) -> bytes:
    """One file as it appears in a .bin stream: BOS, its tokens, EOS."""
    return bytes([tokens.BOS]) + to_tokens(text).tobytes() + bytes([tokens.EOS])


@dataclass
class LanguageStats:
    """What the build did for one language; becomes its entry in summary.json."""

    language: str
    files: int = 0
    bytes: int = 0
    train_files: int = 0
    val_files: int = 0
    train_tokens: int = 0
    val_tokens: int = 0
    capped: int = 0  # files that passed the cheap filters but were left out by --max-mb
    dropped: dict[str, int] = field(default_factory=dict)
    sources: list[dict[str, str]] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    max_error_share: float = 0.0


def select(
    docs: list[Doc], language: str, max_share: float, max_bytes: int | None,
    drops: Counter[str],
) -> tuple[list[Doc], int]:
    """Parse files in hash order, keeping those that parse until max_bytes is reached.

    Returns the kept files and how many were left unparsed because of the cap.
    """
    ordered = sorted(docs, key=lambda d: unit_hash(d.text, ORDER_SALT))
    kept: list[Doc] = []
    total = 0
    for index, doc in enumerate(tqdm(ordered, desc=f"parse {language}", unit="file",
                                     leave=False, mininterval=2)):
        if max_bytes is not None and total >= max_bytes:
            return kept, len(ordered) - index
        if parses(doc.text, language, max_share, doc.path):
            kept.append(doc)
            total += doc.size
        else:
            drops["parse"] += 1
    return kept, 0


def write_language(docs: list[Doc], folder: Path, stats: LanguageStats, fraction: float) -> None:
    """Write train.bin, val.bin, val.jsonl and val_files.txt for one language."""
    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    with (open(tmp / "train.bin", "wb") as train, open(tmp / "val.bin", "wb") as val,
          open(tmp / "val.jsonl", "w") as jsonl, open(tmp / "val_files.txt", "w") as names):
        for doc in docs:
            stream = packed(doc.text)
            if is_validation(doc.text, fraction):
                val.write(stream)
                jsonl.write(json.dumps({"path": doc.path, "text": doc.text}) + "\n")
                names.write(doc.path + "\n")
                stats.val_files += 1
                stats.val_tokens += len(stream)
            else:
                train.write(stream)
                stats.train_files += 1
                stats.train_tokens += len(stream)
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)


def build_language(
    language: str, sources: list[Source], settings: Settings, out: Path, cache: Path,
    max_mb: float | None = None,
) -> LanguageStats:
    """Read, filter, split and write one language; raise CorpusError if nothing is left."""
    stats = LanguageStats(language, max_error_share=settings.error_share(language))
    drops: Counter[str] = Counter()
    docs: list[Doc] = []
    for source in sources:
        try:
            docs.extend(read_source(source, cache, drops))
            stats.sources.append(source.describe())
        except SourceUnavailable as err:
            print(f"warning: source {source.name} unavailable: {err}", file=sys.stderr)
            stats.unavailable.append(f"{source.name}: {err}")
    docs = drop_outliers(docs, settings, drops)
    docs = drop_duplicates(docs, drops)
    max_bytes = None if max_mb is None else int(max_mb * 1e6)
    docs, stats.capped = select(docs, language, stats.max_error_share, max_bytes, drops)
    stats.dropped = {reason: drops[reason] for reason in DROPS}
    if not docs:
        raise CorpusError(f"empty corpus: no {language} files survive the filters")
    stats.files = len(docs)
    stats.bytes = sum(d.size for d in docs)
    write_language(docs, out / language, stats, settings.val_fraction)
    return stats


def write_summary(out: Path, results: dict[str, LanguageStats], meta: dict[str, Any]) -> None:
    """Merge this run's languages into out/summary.json (other languages stay)."""
    path = out / "summary.json"
    summary: dict[str, Any] = {"languages": {}}
    if path.is_file():
        with contextlib.suppress(OSError, json.JSONDecodeError):
            summary = json.loads(path.read_text())
    summary.update(meta)
    summary.setdefault("languages", {})
    for language, stats in results.items():
        summary["languages"][language] = asdict(stats)
    summary["tokens"] = {"BOS": tokens.BOS, "EOS": tokens.EOS, "UNK": tokens.UNK}
    path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")


def format_table(results: Iterable[LanguageStats]) -> str:
    """The per-language summary table printed after a build."""
    head = ["language", "files", "MB", "train tok", "val tok", "val files", *DROPS, "capped"]
    rows = [head]
    for s in results:
        rows.append([s.language, str(s.files), f"{s.bytes / 1e6:.1f}", f"{s.train_tokens:,}",
                     f"{s.val_tokens:,}", str(s.val_files),
                     *(str(s.dropped.get(r, 0)) for r in DROPS), str(s.capped)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


# ---------------------------------------------------------------------------- archive


def cut_at_file(path: Path, limit: int) -> int:
    """Largest length <= limit that ends right after an EOS in the stream."""
    data = np.memmap(path, dtype=np.uint8, mode="r") if path.stat().st_size else np.zeros(0)
    if limit >= len(data):
        return len(data)
    ends = np.flatnonzero(data[:limit] == tokens.EOS)
    return int(ends[-1]) + 1 if len(ends) else 0


def write_archive(out: Path, archive: Path, keep: dict[str, float]) -> int:
    """tar.xz the corpus, keeping `keep[lang]` of each train.bin; return the size."""
    tmp = archive.with_name(archive.name + ".tmp")
    kept_tokens = {}
    with tarfile.open(tmp, "w:xz", preset=6) as tar:
        for path in sorted(out.rglob("*")):
            if not path.is_file():
                continue
            rel = path.relative_to(out.parent).as_posix()
            language = path.parent.name
            if path.name == "train.bin" and language in keep:
                size = cut_at_file(path, int(path.stat().st_size * keep[language]))
                kept_tokens[language] = size
                info = tarfile.TarInfo(rel)
                info.size = size
                with open(path, "rb") as handle:
                    tar.addfile(info, io.BytesIO(handle.read(size)))
            else:
                tar.add(path, arcname=rel)
        note = json.dumps({"train_tokens_kept": kept_tokens}, indent=2).encode()
        info = tarfile.TarInfo(f"{out.name}/pack.json")
        info.size = len(note)
        tar.addfile(info, io.BytesIO(note))
    tmp.replace(archive)
    return archive.stat().st_size


def estimate_ratio(path: Path, sample: int = 1 << 22) -> float:
    """Compressed / raw size of the first `sample` bytes with the archive's settings."""
    with open(path, "rb") as handle:
        data = handle.read(sample)
    return len(lzma.compress(data, preset=6)) / max(1, len(data))


def pack(out: Path, archive: Path, max_mb: float) -> int:
    """Write a tar.xz of the corpus no larger than max_mb, shortening train streams."""
    if not (out / "summary.json").is_file():
        raise CorpusError(f"no corpus in {out}: run `python -m training.corpus build` first")
    budget = max_mb * 1e6
    trains = {p.parent.name: p for p in sorted(out.glob("*/train.bin"))}
    others = [p for p in out.rglob("*") if p.is_file() and p.name != "train.bin"]
    fixed = 0.25 * sum(p.stat().st_size for p in others)  # kept whole; rough xz ratio
    estimated = {lang: p.stat().st_size * estimate_ratio(p) for lang, p in trains.items()}
    scale = min(1.0, max(0.0, (budget * 0.95 - fixed) / max(1.0, sum(estimated.values()))))
    for _ in range(4):
        size = write_archive(out, archive, dict.fromkeys(trains, scale))
        print(f"{archive}: {size / 1e6:.1f} MB, train streams kept at {scale:.1%}",
              file=sys.stderr)
        if size <= budget:
            return size
        scale *= budget * 0.97 / size
    archive.unlink()
    raise CorpusError(f"cannot fit the corpus in {max_mb} MB; build with a smaller --max-mb")


# ---------------------------------------------------------------------------- CLI


def choose_sources(args: argparse.Namespace, recipe: Recipe) -> dict[str, list[Source]]:
    """Sources per language for this run: --dir/--parquet, or the recipe's."""
    if args.dir or args.parquet:
        if not args.language:
            raise CorpusError("--dir and --parquet need --language NAME")
        language = check_language(args.language)
        if args.dir:
            path = readable_dir(Path(args.dir))
            source = Source(name=path.resolve().name or "dir", language=language, kind="dir",
                            path=str(path))
        else:
            source = Source(name="parquet", language=language, kind="parquet",
                            path=args.parquet)
        return {language: [source]}
    if args.languages:
        wanted = [check_language(x.strip()) for x in args.languages.split(",")]
    else:
        wanted = [lang for lang in LANGUAGES if any(s.language == lang for s in recipe.sources)]
    chosen = {lang: [s for s in recipe.sources if s.language == lang] for lang in wanted}
    for lang, sources in chosen.items():
        if not sources:
            raise CorpusError(f"the recipe has no source for {lang}")
    return chosen


def cmd_fetch(args: argparse.Namespace, recipe: Recipe) -> int:
    """Download and extract every package source of the chosen languages."""
    failed = 0
    for sources in choose_sources(args, recipe).values():
        for source in sources:
            if source.kind not in ("apt", "npm", "pypi"):
                continue
            try:
                print(f"{source.name}: {source_root(source, Path(args.cache))}", file=sys.stderr)
            except SourceUnavailable as err:
                failed += 1
                print(f"warning: source {source.name} unavailable: {err}", file=sys.stderr)
    if failed:
        print(f"{failed} source(s) unavailable; build goes on without them", file=sys.stderr)
    return 0


def cmd_build(args: argparse.Namespace, recipe: Recipe) -> int:
    """Build the chosen languages into --out and print the summary table."""
    chosen = choose_sources(args, recipe)
    settings = recipe.settings
    if args.val_fraction is not None:
        settings = Settings(args.val_fraction, settings.size_percentiles,
                            settings.line_percentiles, settings.max_error_share)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, LanguageStats] = {}
    errors: list[str] = []
    started = time.monotonic()
    for language, sources in chosen.items():
        try:
            results[language] = build_language(language, sources, settings, out,
                                                Path(args.cache), args.max_mb)
        except CorpusError as err:
            if len(chosen) == 1:
                raise
            errors.append(str(err))
            print(f"warning: {err}", file=sys.stderr)
    if not results:
        raise CorpusError("empty corpus: " + "; ".join(errors))
    meta = {"val_fraction": settings.val_fraction, "max_mb": args.max_mb,
            "size_percentiles": list(settings.size_percentiles),
            "line_percentiles": list(settings.line_percentiles)}
    write_summary(out, results, meta)
    print(format_table(results.values()))
    print(f"built {len(results)} language(s) into {out} in {time.monotonic() - started:.0f} s")
    return 0


def cmd_pack(args: argparse.Namespace, recipe: Recipe) -> int:
    pack(Path(args.out), Path(args.archive), args.max_archive_mb)
    return 0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.corpus", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default=str(RECIPE), help="recipe file (TOML)")
    parser.add_argument("--cache", default=str(CACHE), help="download/extract cache")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("fetch", "build"):
        p = sub.add_parser(name)
        p.add_argument("--languages", help="comma-separated subset, e.g. c,go")
        p.add_argument("--dir", help="build from a local directory or git checkout")
        p.add_argument("--parquet", help="build from parquet shards (glob), `content` column")
        p.add_argument("--language", help="language of --dir / --parquet files")
    build = sub.choices["build"]
    build.add_argument("--max-mb", type=float, help="cap per language (MB of kept text)")
    build.add_argument("--out", default=str(OUT), help="output folder")
    build.add_argument("--val-fraction", type=float, help="override the recipe's share")
    p = sub.add_parser("pack", help="write a tar.xz of a built corpus under a size cap")
    p.add_argument("--out", default=str(OUT), help="the built corpus folder")
    p.add_argument("--archive", default="data/corpus.tar.xz")
    p.add_argument("--max-archive-mb", type=float, default=25.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    commands = {"fetch": cmd_fetch, "build": cmd_build, "pack": cmd_pack}
    try:
        recipe = load_recipe(Path(args.recipe))
        return commands[args.command](args, recipe)
    except CorpusError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
