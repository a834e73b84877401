"""The browser demo's main thread while someone types, in figures, for the CodeMirror
editor and the textarea editor it replaced, side by side in one run.

    python bench/bench_web_typing.py [--chars N] [--delay MS] [--rounds R]

What tests/web/test_web_demo.py's main-thread test asserts, printed: the demo (web_demo/,
served with the repository, so with the shipped ttcc/models/python.ttc and its own
options) in Debian's headless Chromium, an N-character document of the Python sample
(ttcc/models/samples/python.py, repeated), N more characters of it typed at the end with
real key events, MS between keydown and keyup. The textarea version is web_demo/ as it
was at commit TEXTAREA_DEMO (read from git), served beside the same models; the two take
turns, R rounds each, so both see the same machine. While it types, a Chromium trace
records the page's main thread (tests/web/main_thread.py): its longest task, and the CPU
time of the demo's own scripts in each animation frame (the test's bar: under 50 ms;
beside it, the same scripts by the wall clock), and the page counts the suggestions it
shows, each with the time from its keydown until the ghost text is in the editor.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright import sync_api  # noqa: E402

from bench.bench_engine import cpu_name  # noqa: E402
from tests.browser import chromium, static_site  # noqa: E402
from tests.web.test_web_demo import (  # noqa: E402
    BLOCKING_MS,
    SHIPPED_QUERY,
    TYPING_DELAY_MS,
    open_demo,
    python_code,
    type_watching_the_main_thread,
)

# The last commit whose demo is a textarea with an overlay.
TEXTAREA_DEMO = "496711a"
# Both editors: the textarea's value or the CodeMirror document.
EDITOR_TEXT = "ttcDemo.text ? ttcDemo.text() : document.getElementById('code').value"


@dataclass
class Measured:
    latencies: list[float] = field(default_factory=list)  # ms, keydown to ghost text
    suggestions: int = 0
    script_cpu_ms: list[float] = field(default_factory=list)  # per frame, the demo's scripts
    script_wall_ms: list[float] = field(default_factory=list)
    longest_task: float = 0.0
    seconds: float = 0.0
    intact: bool = True


def textarea_site_root(directory: Path) -> Path:
    """The repository's layout with web_demo/ from TEXTAREA_DEMO and the shipped models."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", TEXTAREA_DEMO, "web_demo"],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(directory, filter="data")
    (directory / "ttcc").mkdir()
    (directory / "ttcc" / "models").symlink_to(ROOT / "ttcc" / "models")
    return directory


def type_once(browser: sync_api.Browser, site: str, document: str, typed: str, delay: float,
              into: Measured) -> None:
    page = browser.new_page()
    try:
        if open_demo(page, site, SHIPPED_QUERY) != "ready":
            sys.exit(f"the demo did not load its model: {page.locator('#status').text_content()}")
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(document)
        page.evaluate("ttcDemo.settled()")
        start = time.perf_counter()
        typing = type_watching_the_main_thread(page, typed, delay)
        into.seconds += time.perf_counter() - start
        into.intact &= page.evaluate(EDITOR_TEXT) == document + typed
    finally:
        page.close()
    into.latencies += typing.latencies
    into.suggestions += typing.suggestions
    into.script_cpu_ms += typing.main_thread.script_cpu_ms
    into.script_wall_ms += typing.main_thread.script_wall_ms
    into.longest_task = max(into.longest_task, typing.main_thread.longest_task_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chars", type=int, default=2000, help="document and typed length")
    parser.add_argument("--delay", type=float, default=TYPING_DELAY_MS, help="ms per key")
    parser.add_argument("--rounds", type=int, default=3, help="turns each editor takes")
    args = parser.parse_args()

    document, typed = python_code(0, args.chars), python_code(args.chars, args.chars)
    results = {"textarea": Measured(), "CodeMirror": Measured()}
    with (tempfile.TemporaryDirectory() as old, static_site(textarea_site_root(Path(old))) as
          textarea_site, static_site(ROOT) as site, chromium() as browser):
        sites = {"textarea": textarea_site, "CodeMirror": site}
        for _ in range(args.rounds):
            for name, measured in results.items():
                type_once(browser, sites[name], document, typed, args.delay, measured)
        browser_version = f"Chromium {browser.version}, headless"

    print(f"{cpu_name()}, {browser_version}")
    print(f"python.ttc, {len(document)}-character document, {len(typed)} characters typed at "
          f"the end ({args.delay:g} ms a key), {args.rounds} rounds per editor, taking turns")
    print("| editor | suggestions | keydown to ghost: median | p90 | max | longest task "
          "| frames with ≥ 50 CPU ms of our scripts | our scripts in a frame, max: CPU "
          "| wall | text as typed |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, m in results.items():
        if not m.latencies:
            sys.exit(f"{name}: no suggestion was shown")
        print(f"| {name} | {m.suggestions} | {statistics.median(m.latencies):.1f} ms "
              f"| {p90(m.latencies):.1f} ms | {max(m.latencies):.1f} ms | {m.longest_task:.1f} ms "
              f"| {sum(ms >= BLOCKING_MS for ms in m.script_cpu_ms)} "
              f"| {max(m.script_cpu_ms, default=0):.1f} ms "
              f"| {max(m.script_wall_ms, default=0):.1f} ms "
              f"| {'yes' if m.intact else 'NO'} |")
    old, new = results["textarea"].latencies, results["CodeMirror"].latencies
    print(f"CodeMirror / textarea: median {statistics.median(new) / statistics.median(old):.2f}x, "
          f"p90 {p90(new) / p90(old):.2f}x")


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


if __name__ == "__main__":
    main()
