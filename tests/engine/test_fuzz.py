"""The engine's libFuzzer targets (engine_c/fuzz, run by scripts/fuzz.sh), under
AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer: every input that once
crashed them (engine_c/fuzz/regressions) and every seed input replays cleanly, and a
short fuzz run finds nothing. The long run is `bash scripts/fuzz.sh`."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "engine_c"
FUZZ = ENGINE / "fuzz"
SANITIZERS = {"ASAN_OPTIONS": "detect_leaks=1", "UBSAN_OPTIONS": "print_stacktrace=1"}


def run(command: list[str | Path]) -> str:
    result = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **SANITIZERS},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output


@pytest.fixture(scope="module")
def targets() -> Path:
    run(["make", "-s", "-j2", "-C", ENGINE, "fuzz"])
    return ENGINE / "build"


@pytest.mark.parametrize("target", ["loader", "session"])
def test_crash_inputs_and_seeds_replay_cleanly(targets: Path, target: str) -> None:
    inputs = sorted((FUZZ / "regressions" / target).glob("*"))
    inputs += sorted((FUZZ / f"{target}_corpus").glob("*"))
    output = run([targets / f"fuzz_{target}", *inputs])  # libFuzzer runs each file once
    assert output.count("\nExecuted ") == len(inputs)
    assert "ERROR:" not in output and "runtime error" not in output


def test_short_fuzz_run_finds_nothing(targets: Path, tmp_path: Path) -> None:
    runs = {"loader": 20000, "session": 3000}
    options = [word for target, n in runs.items() for word in (f"--{target}-runs", str(n))]
    output = run(["bash", "scripts/fuzz.sh", *options, "--seed", "1", "--work", tmp_path])
    for target, n in runs.items():
        found = re.search(rf"^fuzz_{target}: (\d+) executions .*: no crash", output, re.M)
        assert found and int(found[1]) >= n, output
