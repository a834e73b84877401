"""The browser demo's main thread while someone types, in figures.

    python bench/bench_web_typing.py [--chars N] [--delay MS]

What tests/web/test_web_demo.py's main-thread test asserts, printed: the demo
(web_demo/, served with the repository, so with the shipped ttcc/models/python.ttc
and its own options) in Debian's headless Chromium, an N-character document of
the Python sample (ttcc/models/samples/python.py, repeated), N more characters of it
typed at the end with real key events, MS between keydown and keyup. While it
types, a Chromium trace ("toplevel") records every task of the page's main
thread, for the longest one; the Long Tasks API counts those over 50 ms (the
test's bar: none), and the page counts the suggestions it shows, each with the
time from its keydown until the ghost text is in the editor.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import chromium, static_site  # noqa: E402
from tests.web.test_web_demo import (  # noqa: E402
    SHIPPED_QUERY,
    TYPING_DELAY_MS,
    open_demo,
    python_code,
    settled,
    type_watching_the_main_thread,
)


def longest_main_thread_task(trace: bytes) -> float:
    """ms: the longest task that the renderer's main thread ran in a Chromium trace."""
    events = json.loads(trace)["traceEvents"]
    main_threads = {
        (event["pid"], event["tid"])
        for event in events
        if event.get("name") == "thread_name" and event["args"]["name"] == "CrRendererMain"
    }
    return max(
        (
            event["dur"] / 1000
            for event in events
            if event.get("name") == "ThreadControllerImpl::RunTask"
            and event.get("ph") == "X"
            and (event["pid"], event["tid"]) in main_threads
        ),
        default=0.0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chars", type=int, default=2000, help="document and typed length")
    parser.add_argument("--delay", type=float, default=TYPING_DELAY_MS, help="ms per key")
    args = parser.parse_args()

    document, typed = python_code(0, args.chars), python_code(args.chars, args.chars)
    with static_site(ROOT) as site, chromium() as browser:
        page = browser.new_page()
        if open_demo(page, site, SHIPPED_QUERY) != "ready":
            sys.exit(f"the demo did not load its model: {page.locator('#status').text_content()}")
        page.locator("#code").fill(document)
        page.locator("#code").press("Control+End")
        settled(page)
        browser.start_tracing(page=page, categories=["toplevel"])
        start = time.perf_counter()
        typing = type_watching_the_main_thread(page, typed, args.delay)
        seconds = time.perf_counter() - start
        longest = longest_main_thread_task(browser.stop_tracing())
        intact = page.locator("#code").input_value() == document + typed

    latencies = typing.latencies
    print(
        f"python.ttc, {len(document)}-character document, {len(typed)} characters typed "
        f"at the end ({args.delay:g} ms a key) in {seconds:.1f} s"
    )
    print(
        f"main thread: longest task {longest:.1f} ms, "
        f"animation frames over 50 ms: {len(typing.long_frames)}"
        + (f" (longest {max(typing.long_frames):.0f} ms, of which the demo's scripts "
           f"{max(typing.our_script_ms):.0f} ms at most)" if typing.long_frames else "")
    )
    if latencies:
        print(
            f"suggestions shown: {typing.suggestions}; keydown to ghost text: "
            f"median {statistics.median(latencies):.1f} ms, "
            f"90th percentile {statistics.quantiles(latencies, n=10)[-1]:.1f} ms, "
            f"max {max(latencies):.1f} ms"
        )
    else:
        print("suggestions shown: 0")
    print(f"editor text exactly as typed: {'yes' if intact else 'NO'}")


if __name__ == "__main__":
    main()
