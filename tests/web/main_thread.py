"""What a page's main thread ran while a test drove it, read from a Chromium trace.

The bar for a page that "never blocks" is per animation frame: the CPU time its own
scripts took between one rendering update and the next. CPU time, from the trace's thread
clock, rather than the wall time that Long Animation Frames report: on CI's two shared
cores the page's main thread waits behind Chromium's other processes, the engine's worker
and the test itself (tasks were seen to last three times their CPU time), and a frame of
the demo's scripts once measured 50.1 ms by the wall clock where their heaviest frame
takes about 15 ms of CPU. A handler that really runs long takes the CPU all the same,
and still fails.
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from playwright import sync_api

# FunctionCall (every entry into a page's script: event listeners, timers, messages,
# animation frame callbacks, with its source URL) and the rendering updates' ends are in
# devtools.timeline; each task of the thread is in the disabled-by-default variant; the
# page's performance.mark() in blink.user_timing.
TRACE_CATEGORIES = [
    "devtools.timeline", "disabled-by-default-devtools.timeline", "blink.user_timing"]
# Marked by the page as tracing stops: a trace without it lost its end (a full buffer).
END_MARK = "ttcc-trace-end"
MAIN_THREAD = "CrRendererMain"
RENDERING_ENDS = ("AnimationFrame::Render", "e")


@dataclass
class MainThread:
    script_cpu_ms: list[float] = field(default_factory=list)  # per frame, the page's scripts
    script_wall_ms: list[float] = field(default_factory=list)  # the same by the wall clock
    longest_task_ms: float = 0.0  # wall clock, anything the thread ran


@contextmanager
def traced(page: sync_api.Page) -> Iterator[MainThread]:
    """Traces the browser of page while the block runs; on exit, fills the MainThread it
    yielded with what the main threads ran of scripts from page's origin."""
    browser = page.context.browser
    assert browser is not None, "tracing needs a launched browser, not a persistent context"
    origin = page.evaluate("location.origin")
    browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
    measured = MainThread()
    try:
        yield measured
        page.evaluate(f"performance.mark('{END_MARK}')")
    finally:
        trace = browser.stop_tracing()
    read_trace(trace, origin, into=measured)


def read_trace(trace: bytes, origin: str, into: MainThread) -> None:
    """Adds what each renderer main thread of a Chromium trace (JSON) ran to into."""
    events = json.loads(trace)["traceEvents"]
    if not any(event.get("name") == END_MARK for event in events):
        raise RuntimeError("the trace lost its end: Chromium's trace buffer filled")
    main_threads = {
        (event["pid"], event["tid"])
        for event in events
        if event.get("name") == "thread_name" and event["args"]["name"] == MAIN_THREAD
    }
    by_thread: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for event in events:
        if (event.get("pid"), event.get("tid")) in main_threads:
            by_thread[event["pid"], event["tid"]].append(event)
    for thread_events in by_thread.values():
        frames_cpu, frames_wall = scripts_per_frame(thread_events, origin)
        into.script_cpu_ms += frames_cpu
        into.script_wall_ms += frames_wall
        into.longest_task_ms = max(
            [into.longest_task_ms] + [event["dur"] / 1000 for event in thread_events
                                      if event["name"] == "RunTask" and event["ph"] == "X"])


def scripts_per_frame(events: list[dict], origin: str) -> tuple[list[float], list[float]]:
    """ms of CPU and of wall clock that scripts from origin ran in each frame of one main
    thread: the frames split where a rendering update ends."""
    frame_ends = sorted(event["ts"] for event in events
                        if (event["name"], event["ph"]) == RENDERING_ENDS)
    cpu = [0.0] * (len(frame_ends) + 1)
    wall = [0.0] * (len(frame_ends) + 1)
    for call in outermost_calls(events):
        if call["args"]["data"].get("url", "").startswith(origin):
            if "tdur" not in call:
                raise RuntimeError("this Chromium's trace has no thread clock (tdur)")
            frame = bisect.bisect_right(frame_ends, call["ts"])
            cpu[frame] += call["tdur"] / 1000
            wall[frame] += call["dur"] / 1000
    return cpu, wall


def outermost_calls(events: list[dict]) -> Iterator[dict]:
    """The FunctionCall events not inside another one (a script that dispatches an event
    runs its listeners within its own call: counted once)."""
    calls = sorted((event for event in events
                    if event["name"] == "FunctionCall" and event["ph"] == "X"),
                   key=lambda event: event["ts"])
    inside_until = -1
    for call in calls:
        if call["ts"] >= inside_until:
            inside_until = call["ts"] + call["dur"]
            yield call
