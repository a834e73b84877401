"""Corpus builder: filters, dedup, split, packing, local-folder builds and clear errors."""

from __future__ import annotations

import json
import shutil
import sysconfig
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from training import corpus, tokens
from training.corpus import Doc, Settings

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def doc(text: str, path: str = "x") -> Doc:
    return Doc(path, text, len(text.encode()), max(map(len, text.split("\n"))))


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = corpus.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def stdlib_dir(tmp_path: Path) -> Path:
    """A few hundred KB of real Python: the stdlib's json and email packages."""
    src = tmp_path / "src"
    for package in ("json", "email"):
        shutil.copytree(STDLIB / package, src / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return src


# ---------------------------------------------------------------------------- globs


def test_globs_stay_in_folders_and_double_star_spans_them() -> None:
    take = corpus.PathFilter(["mm/**/*.[ch]", "*.py"], ["**/vendor/**"])
    assert take("mm/slab.c") and take("mm/kasan/init.h") and take("top.py")
    assert not take("mm/slab.cc") and not take("sub/top.py") and not take("mm/vendor/x.c")
    assert not take(".git/hooks/a.py") and not take("node_modules/x.py")


# ---------------------------------------------------------------------------- filters


def test_decode_drops_unreadable_binary_and_empty_and_normalises() -> None:
    assert corpus.decode(None) == (None, "unreadable")
    assert corpus.decode(b"int x;\0\0") == (None, "binary")
    assert corpus.decode("caf\xe9".encode("latin-1")) == (None, "binary")
    assert corpus.decode(b"") == (None, "empty")
    assert corpus.decode(b" \n\t\n") == (None, "empty")
    text = b"\xef\xbb\xbfa = 1\r\nb = '\xc3\xa9'\r\n"
    assert corpus.decode(text) == ("a = 1\nb = '\u00e9'\n", "")


def test_percentile_filter_drops_size_and_longest_line_outliers() -> None:
    docs = [doc("x = 1\n" * n, f"f{n}") for n in range(1, 201)]
    docs.append(doc("y = 2\n" + "z" * 50 + "\n", "wide"))
    drops: Counter[str] = Counter()
    kept = corpus.drop_outliers(docs, Settings(), drops)
    paths = {d.path for d in kept}
    assert "f1" not in paths and "f200" not in paths  # below 1st / above 95th percentile
    assert "f3" in paths and "f150" in paths
    assert "wide" not in paths and drops["longline"] == 1
    assert drops["size"] == len(docs) - len(kept) - 1
    assert corpus.percentile_bounds([7], 1, 95) == (7, 7)  # one file is never an outlier


def test_python_parse_filter_uses_ast() -> None:
    assert corpus.parses("def f(x):\n    return x\n", "python", 0.5)
    assert not corpus.parses("def f(x:\n    return x\n", "python", 0.5)
    assert not corpus.parses("print 'python 2'\n", "python", 0.5)


def test_tree_sitter_parse_filter_with_error_share() -> None:
    good = "function add(a, b) {\n  return a + b;\n}\n"
    assert corpus.error_share(good, "javascript") == 0.0
    bad = good + "function (( {\n"
    share = corpus.error_share(bad, "javascript")
    assert 0.0 < share < 1.0
    assert not corpus.parses(bad, "javascript", 0.0)
    assert corpus.parses(bad, "javascript", share)
    assert corpus.parses("#include <stdio.h>\nint main(void) { return 0; }\n", "c", 0.0)
    assert corpus.parses("const x: number = 1;\nconst y = <T,>(a: T) => a;\n",
                         "typescript", 0.0, "a.ts")
    assert corpus.parses("const App = () => <div>hi</div>;\n", "typescript", 0.0, "a.tsx")
    for language in ("cpp", "go", "java", "kotlin", "php", "rust"):
        assert corpus.error_share("<?php @@@ ))) {{{ <<<", language) > 0.0, language


def test_dedup_exact_and_near_exact() -> None:
    base = "def f(x):\n    return x + 1\n"
    docs = [doc(base, "a"), doc(base + "\n\n", "b"), doc(base.replace("    ", "\t"), "c"),
            doc("def f(x):\n    return x+1\n", "d"), doc("def g(x):\n    return x\n", "e")]
    drops: Counter[str] = Counter()
    kept = corpus.drop_duplicates(docs, drops)
    assert [d.path for d in kept] == ["a", "e"]
    assert drops == Counter(dup=1, neardup=2)


# ---------------------------------------------------------------------------- split & pack


def test_split_is_deterministic_and_follows_the_fraction() -> None:
    texts = [f"x = {i}\n" for i in range(4000)]
    first = [corpus.is_validation(t, 0.05) for t in texts]
    assert first == [corpus.is_validation(t, 0.05) for t in texts]
    assert 0.03 < sum(first) / len(texts) < 0.07
    assert not any(corpus.is_validation(t, 0.0) for t in texts[:100])
    assert all(corpus.is_validation(t, 1.0) for t in texts[:100])


def test_packing_matches_tokens_encode() -> None:
    text = "caf\u00e9 \u4e2d\U0001f600\r\nx\ty\x7f\x01\rz~\n"
    assert corpus.to_tokens(text).tolist() == tokens.encode(text)
    assert corpus.to_tokens("a\r\nb").tolist() == [ord("a"), 10, ord("b")]
    stream = corpus.packed("\u00e9a")
    assert list(stream) == [tokens.BOS, tokens.UNK, ord("a"), tokens.EOS]


# ---------------------------------------------------------------------------- end to end


def test_build_from_local_stdlib_folder(
    stdlib_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (stdlib_dir / "broken.py").write_text("def broken(:\n    pass\n" * 20)
    (stdlib_dir / "copy_of_decoder.py").write_text((stdlib_dir / "json/decoder.py").read_text())
    out = tmp_path / "out"
    code, stdout, _ = run_main(["build", "--dir", str(stdlib_dir), "--language", "python",
                                "--out", str(out), "--val-fraction", "0.2"], capsys)
    assert code == 0
    assert "python" in stdout and "train tok" in stdout
    summary = json.loads((out / "summary.json").read_text())
    stats = summary["languages"]["python"]
    assert stats["dropped"]["parse"] == 1 and stats["dropped"]["dup"] >= 1
    assert stats["files"] == stats["train_files"] + stats["val_files"] > 25
    train = np.memmap(out / "python/train.bin", dtype=np.uint8, mode="r")
    val = np.memmap(out / "python/val.bin", dtype=np.uint8, mode="r")
    assert len(train) == stats["train_tokens"] and len(val) == stats["val_tokens"]
    assert train[0] == tokens.BOS and train[-1] == tokens.EOS
    assert int((train == tokens.BOS).sum()) == stats["train_files"]
    rows = [json.loads(line) for line in (out / "python/val.jsonl").read_text().splitlines()]
    assert len(rows) == stats["val_files"] > 0
    assert b"".join(corpus.packed(r["text"]) for r in rows) == val.tobytes()
    names = (out / "python/val_files.txt").read_text().split()
    assert names == [r["path"] for r in rows] and all(n.startswith("src/") for n in names)
    # A rebuild gives the same bytes: the split and the order depend only on content.
    run_main(["build", "--dir", str(stdlib_dir), "--language", "python", "--out",
              str(tmp_path / "again"), "--val-fraction", "0.2"], capsys)
    assert (tmp_path / "again/python/train.bin").read_bytes() == train.tobytes()


def test_max_mb_takes_a_hash_ordered_subset(
    stdlib_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert run_main(["build", "--dir", str(stdlib_dir), "--language", "python",
                     "--out", str(out), "--max-mb", "0.05"], capsys)[0] == 0
    stats = json.loads((out / "summary.json").read_text())["languages"]["python"]
    assert 50_000 <= stats["bytes"] < 120_000 and stats["capped"] > 0


def test_bad_files_are_counted_not_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        (src / f"ok{i}.py").write_text(f"def f{i}(x):\n    return x * {i}\n")
    (src / "binary.py").write_bytes(b"x = 1\0\0\0")
    (src / "latin.py").write_bytes("s = 'caf\xe9'\n".encode("latin-1"))
    (src / "empty.py").write_text("")
    (src / "secret.py").write_text("x = 1\n")
    (src / "notes.txt").write_text("not python")
    real = corpus.read_bytes

    def fake_read(path: Path) -> bytes:
        if path.name == "secret.py":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(corpus, "read_bytes", fake_read)
    out = tmp_path / "out"
    code, _, err = run_main(["build", "--dir", str(src), "--language", "python",
                             "--out", str(out)], capsys)
    assert code == 0, err
    dropped = json.loads((out / "summary.json").read_text())["languages"]["python"]["dropped"]
    assert (dropped["unreadable"], dropped["binary"], dropped["empty"]) == (1, 2, 1)


def test_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "a.py").write_bytes(b"\0\0")
    cases = [
        (["build", "--dir", str(empty), "--language", "python"], "empty corpus"),
        (["build", "--dir", str(empty), "--language", "cobol"], "unknown language 'cobol'"),
        (["build", "--languages", "python,cobol"], "unknown language 'cobol'"),
        (["build", "--dir", str(tmp_path / "nope"), "--language", "go"], "not found"),
        (["build", "--dir", str(empty / "a.py"), "--language", "go"], "not found"),
        (["build", "--dir", str(empty)], "need --language"),
    ]
    for argv, message in cases:
        code, _, err = run_main([*argv[:1], *argv[1:], "--out", str(tmp_path / "o")], capsys)
        assert code == 2, argv
        lines = [line for line in err.replace("\r", "\n").splitlines() if "error" in line]
        assert lines == [f"error: {lines[0][7:]}"] and message in lines[0], err
        assert "Traceback" not in err


def test_missing_tool_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    recipe = tmp_path / "recipe.toml"
    recipe.write_text('[[source]]\nname = "zod"\nlanguage = "typescript"\nkind = "npm"\n'
                      'package = "zod"\nversion = "1.0.0"\nroot = "package"\n')
    monkeypatch.setattr(corpus.shutil, "which", lambda tool: None)
    code, _, err = run_main(["--recipe", str(recipe), "--cache", str(tmp_path / "cache"),
                             "build", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "missing tool: npm" in err and "Traceback" not in err


def test_parquet_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["build", "--parquet", str(tmp_path / "*.parquet"), "--language", "python",
            "--out", str(tmp_path / "o")]
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        code, _, err = run_main(args, capsys)
        assert code == 2 and "pip install pyarrow" in err
        return
    texts = [f"def f{i}(x):\n    return x + {i}\n" * (i % 7 + 1) for i in range(60)]
    pq.write_table(pa.table({"content": texts}), tmp_path / "shard-0.parquet")
    assert run_main(args, capsys)[0] == 0
    stats = json.loads((tmp_path / "o/summary.json").read_text())["languages"]["python"]
    assert stats["files"] > 40


def test_pack_writes_archive_under_cap(
    stdlib_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "corpus"
    run_main(["build", "--dir", str(stdlib_dir), "--language", "python", "--out", str(out)],
             capsys)
    archive = tmp_path / "corpus.tar.xz"
    cap_mb = 0.04  # smaller than the whole corpus compressed: train.bin gets shortened
    assert run_main(["pack", "--out", str(out), "--archive", str(archive),
                     "--max-archive-mb", str(cap_mb)], capsys)[0] == 0
    assert archive.stat().st_size <= cap_mb * 1e6
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        assert "corpus/summary.json" in names and "corpus/python/val.bin" in names
        handle = tar.extractfile("corpus/python/train.bin")
        assert handle is not None
        train = handle.read()
    full = (out / "python/train.bin").read_bytes()
    assert 0 < len(train) < len(full) and full.startswith(train) and train[-1] == tokens.EOS
    code, _, err = run_main(["pack", "--out", str(tmp_path / "none"), "--archive",
                             str(archive)], capsys)
    assert code == 2 and "no corpus" in err
