"""Shipped against adapted models on projects that no model was trained on.

    python -m training.adapt_study --minutes 5 --json adapt_study.json

Fetches each project below from its registry (PyPI wheels, npm tarballs; pinned, none
in training/recipe.toml) into data/adapt_projects, adapts the language's shipped model
to it with python -m training.adapt's defaults and the given budget, and prints the
held-out files' bits/char, keystrokes saved, fully correct suggestions and the
probability of ending a fill where it ends, before and after (memory on in both), with
the medians over projects.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from training.adapt import AdaptError, adapt
from training.project_files import ProjectError
from ttcc import shipped_models_dir

# (language, registry, package, version)
PROJECTS = (
    ("python", "pypi", "Jinja2", "3.1.6"),
    ("python", "pypi", "pygls", "2.1.1"),
    ("python", "pypi", "tqdm", "4.70.1"),
    ("javascript", "npm", "semver", "7.8.6"),
    ("javascript", "npm", "undici", "7.30.2"),
    ("javascript", "npm", "js-yaml", "4.3.2"),
    ("typescript", "npm", "ajv", "8.20.0"),
    ("typescript", "npm", "cheerio", "1.2.0"),
)


def fetch(registry: str, package: str, version: str, projects: Path) -> Path:
    """The package's files, unpacked once into projects/<package>-<version>."""
    folder = projects / f"{package}-{version}"
    if folder.is_dir():
        return folder
    with tempfile.TemporaryDirectory() as scratch:
        if registry == "pypi":
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                            "--only-binary=:all:", "-d", scratch, f"{package}=={version}"],
                           check=True)
            (wheel,) = Path(scratch).glob("*.whl")
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(folder)
        else:
            subprocess.run(["npm", "pack", "--silent", f"{package}@{version}"], cwd=scratch,
                           check=True, stdout=subprocess.DEVNULL)
            (tarball,) = Path(scratch).glob("*.tgz")
            with tarfile.open(tarball) as archive:
                archive.extractall(folder, filter="data")
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.adapt_study",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="budget per project")
    parser.add_argument("--projects-dir", default="data/adapt_projects")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    projects = Path(args.projects_dir)
    projects.mkdir(parents=True, exist_ok=True)
    print("| language | project | files (held out) | bits/char | keystrokes saved "
          "| fully correct | ends a fill | seconds | peak MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    results = []
    for language, registry, package, version in PROJECTS:
        try:
            folder = fetch(registry, package, version, projects)
            with tempfile.TemporaryDirectory() as scratch:
                result = adapt(folder, language, args.minutes, Path(scratch) / "model.ttc",
                               shipped_models_dir(), progress=False)
        except (AdaptError, ProjectError, OSError, subprocess.CalledProcessError) as e:
            print(f"| {language} | {package} {version} | error: {e} ||||||", flush=True)
            continue
        before, after = result["before"], result["after"]
        results.append({"language": language, "project": f"{package} {version}", **result})
        print(f"| {language} | {package} {version} | {result['files']} ({result['held_out']}) "
              f"| {before['bits_per_char']:.3f} → {after['bits_per_char']:.3f} "
              f"| {100 * before['keystrokes_saved']:.1f} → "
              f"{100 * after['keystrokes_saved']:.1f} % "
              f"| {100 * before['fully_correct']:.1f} → {100 * after['fully_correct']:.1f} % "
              f"| {before['fill_end']:.2f} → {after['fill_end']:.2f} "
              f"| {result['seconds']:.0f} | {result['peak_mb']:.0f} |", flush=True)
    if results:
        fewer_bits = statistics.median(
            1 - r["after"]["bits_per_char"] / r["before"]["bits_per_char"] for r in results)
        ratio = statistics.median(
            r["after"]["keystrokes_saved"] / max(r["before"]["keystrokes_saved"], 1e-9)
            for r in results)
        print(f"\nmedian over {len(results)} projects: {100 * fewer_bits:.1f} % fewer bits/char, "
              f"{ratio:.2f}x the keystrokes saved")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
