"""Shipped against adapted models on projects that no model was trained on.

    python -m training.adapt_study --minutes 5 --json training/adapt_study/adapt_study.json

Fetches each project below from its registry (PyPI wheels, npm tarballs, Debian
packages; pinned, none in training/recipe.toml) into data/adapt_projects, adapts the
language's shipped model to it with python -m training.adapt's defaults and the given
budget, and prints the held-out files' bits/char, keystrokes saved, fully correct
suggestions and the probability of ending a fill where it ends, before and after (memory
on in both), whether the adapted model was kept, and the medians over projects.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from training.corpus import CorpusError, Source, SourceUnavailable, source_root
from training.project_files import ProjectError
from ttcc import shipped_models_dir


def project(language: str, kind: str, package: str, version: str, root: str = "") -> Source:
    """A package fetched as the training recipe fetches its sources; root: its code's
    folder inside the package (Debian's Go and Rust packages keep sources deep down)."""
    return Source(name=f"{package}-{version}".replace("/", "_"), language=language,
                  kind=kind, package=package, version=version, root=root)


GO_SOURCES = "usr/share/gocode/src/github.com/"
CRATES = "usr/share/cargo/registry/"
PROJECTS = (
    project("python", "pypi", "Jinja2", "3.1.6"),
    project("python", "pypi", "pygls", "2.1.1"),
    project("python", "pypi", "tqdm", "4.70.1"),
    project("javascript", "npm", "semver", "7.8.6"),
    project("javascript", "npm", "undici", "7.30.2"),
    project("javascript", "npm", "js-yaml", "4.3.2"),
    project("typescript", "npm", "ajv", "8.20.0"),
    project("typescript", "npm", "cheerio", "1.2.0"),
    project("typescript", "npm", "@tanstack/query-core", "5.62.0"),
    project("go", "apt", "golang-github-spf13-cobra-dev", "1.6.1-1", GO_SOURCES + "spf13/cobra"),
    project("go", "apt", "golang-github-sirupsen-logrus-dev", "1.9.0-1",
            GO_SOURCES + "sirupsen/logrus"),
    project("go", "apt", "golang-github-google-go-cmp-dev", "0.5.9-1",
            GO_SOURCES + "google/go-cmp"),
    project("rust", "apt", "librust-serde-json-dev", "1.0.87-1", CRATES + "serde_json-*"),
    project("rust", "apt", "librust-itertools-dev", "0.10.3-1", CRATES + "itertools-*"),
    project("rust", "apt", "librust-regex-syntax-dev", "0.6.27-1", CRATES + "regex-syntax-*"),
)


HEADER = ("| language | project | files (held out) | bits/char | keystrokes saved "
          "| fully correct | ends a fill | kept | seconds | peak MB |\n"
          "|---|---|---|---|---|---|---|---|---|---|")


def row(result: dict) -> str:
    """One project's line of the table: shipped → adapted on its held-out files."""
    before, after = result["before"], result["after"]
    return (f"| {result['language']} | {result['project']} | {result['files']} "
            f"({result['held_out']}) "
            f"| {before['bits_per_char']:.3f} → {after['bits_per_char']:.3f} "
            f"| {100 * before['keystrokes_saved']:.1f} → {100 * after['keystrokes_saved']:.1f} % "
            f"| {100 * before['fully_correct']:.1f} → {100 * after['fully_correct']:.1f} % "
            f"| {before['fill_end']:.2f} → {after['fill_end']:.2f} "
            f"| {'yes' if result['kept'] else 'no'} "
            f"| {result['seconds']:.0f} | {result['peak_mb']:.0f} |")


def summary(results: list[dict]) -> str:
    """Medians over projects of what a user gets: the adapted model where it was kept,
    the shipped one elsewhere."""
    used = [r["after"] if r["kept"] else r["before"] for r in results]
    pairs = list(zip(results, used, strict=True))
    fewer_bits = statistics.median(1 - u["bits_per_char"] / r["before"]["bits_per_char"]
                                   for r, u in pairs)
    ratio = statistics.median(u["keystrokes_saved"] / max(r["before"]["keystrokes_saved"], 1e-9)
                              for r, u in pairs)
    correct = statistics.median(u["fully_correct"] - r["before"]["fully_correct"]
                                for r, u in pairs)
    kept = sum(r["kept"] for r in results)
    return (f"median over {len(results)} projects (adapted model kept in {kept}): "
            f"{100 * fewer_bits:.1f} % fewer bits/char, {ratio:.2f}x the keystrokes saved, "
            f"fully correct {100 * correct:+.1f} points")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.adapt_study",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="budget per project")
    parser.add_argument("--projects-dir", default="data/adapt_projects")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    from training.adapt import AdaptError, adapt  # PyTorch: only to run the study

    projects = Path(args.projects_dir)
    projects.mkdir(parents=True, exist_ok=True)
    print(HEADER)
    results = []
    for source in PROJECTS:
        language, name = source.language, f"{source.package} {source.version}"
        try:
            folder = source_root(source, projects)
            with tempfile.TemporaryDirectory() as scratch:
                result = adapt(folder, language, args.minutes, Path(scratch) / "model.ttc",
                               shipped_models_dir(), progress="none")
        except (AdaptError, ProjectError, CorpusError, SourceUnavailable, OSError) as e:
            print(f"| {language} | {name} | error: {e} ||||||||", flush=True)
            continue
        results.append({"language": language, "project": name, **result})
        print(row(results[-1]), flush=True)
    if results:
        print("\n" + summary(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
