"""The engine in headless Chromium (WebAssembly) next to the native engine, in one run.

    python bench/bench_web.py [--model PATH] [--rounds N] [--keystrokes N] [--decodes N]

Without --model it exports a randomly initialised seed-size model (speed does
not depend on the weights). A static server on 127.0.0.1 serves web_demo/, the
bench page (bench/web/) and the model; Playwright starts Debian's Chromium
(/usr/bin/chromium, or $TTCC_CHROMIUM) headless, and the page runs the engine
(web_demo/engine.js with the module it prefers, engine-relaxed.wasm where the
browser runs relaxed SIMD exactly, else engine.wasm; or --wasm's module) in a
dedicated module worker, as the demo does. The pages are served cross-origin
isolated (COOP + COEP), so performance.now() is coarsened to 5 µs there instead
of 100 µs; decode steps are timed in batches all the same.

The measurements are bench/bench_engine.py's:

  decode at position P   decode_rate: single-token forward passes at KV-cache
                         position P, minus the time of the same call with all
                         tokens cached (in the browser: per batch of calls)
  keystroke latency      keystroke_latency: one character typed at the end of a
                         2000-character document (never the suggested one) and
                         a suggestion forced to 32 characters (min_confidence 0)

for three paths: the native engine with the best kernels of this CPU, the
native engine with the scalar "generic" kernels (for reference), and the
WebAssembly engine in Chromium. Each round runs every measure on
every path, one after the other (the order alternates between rounds), so
that the machine's noise falls on all of them alike. The target: WebAssembly
within 2x of native single-thread (best kernels).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_engine import (  # noqa: E402
    SUGGESTION_CHARS,
    decode_rate,
    document,
    export_seed_model,
    percentile,
)
from tests.browser import chromium, static_site  # noqa: E402
from ttcc.engine import Model, Session  # noqa: E402

POSITIONS = (256, 1024, 2000)
TARGET = 2.0
PATHS = ("native", "generic", "wasm")


def make_site(directory: Path, model_path: Path, wasm: Path | None) -> Path:
    """A tree laid out like the repository: web_demo/, bench/web/, models/seed.ttc,
    and the modules to time in bench/: engine.wasm and engine-relaxed.wasm (engine.js
    picks one), or --wasm's module as bench/engine.wasm alone."""
    root = directory / "site"
    (root / "bench").mkdir(parents=True)
    (root / "web_demo").symlink_to(ROOT / "web_demo", target_is_directory=True)
    (root / "bench" / "web").symlink_to(ROOT / "bench" / "web", target_is_directory=True)
    (root / "models").mkdir()
    shutil.copy(model_path, root / "models" / "seed.ttc")
    if wasm is not None:
        shutil.copy(wasm, root / "bench" / "engine.wasm")
    else:
        for name in ("engine.wasm", "engine-relaxed.wasm"):
            shutil.copy(ROOT / "web_demo" / name, root / "bench" / name)
    return root


def decode_ids(position: int) -> list[int]:
    """The tokens bench_engine.decode_rate runs for `position` (BOS, then the document)."""
    return [2, *map(ord, document(position))]


def keystroke_samples(session: Session, repeats: int) -> tuple[list[float], list[str]]:
    """bench_engine.keystroke_latency, returning every sample (seconds) and suggestion."""
    text = document(2000)
    suggestion = session.complete(text, max_chars=SUGGESTION_CHARS, min_confidence=0.0)
    times, suggestions = [], []
    for _ in range(repeats):
        text += "z" if suggestion[:1] != "z" else "q"
        start = time.perf_counter()
        suggestion = session.complete(text, max_chars=SUGGESTION_CHARS, min_confidence=0.0)
        times.append(time.perf_counter() - start)
        suggestions.append(suggestion)
    return times, suggestions


class NativePath:
    """Sessions of the native engine kept across rounds (each ran its tokens once)."""

    def __init__(self, model: Model, kernels: str | None) -> None:
        self.decoders = {}
        for position in POSITIONS:
            session = model.session(kernels=kernels)
            session.logits(decode_ids(position), rows=1)
            self.decoders[position] = session
        self.typist = model.session(kernels=kernels)
        self.kernels = self.typist.kernels

    def decode(self, position: int, repeats: int) -> tuple[int, float]:
        rate = decode_rate(self.decoders[position], position, repeats)
        return repeats, repeats / rate

    def keystrokes(self, repeats: int) -> tuple[list[float], list[str]]:
        return keystroke_samples(self.typist, repeats)


class WasmPath:
    """The worker of bench/web/bench.html in a headless Chromium page."""

    def __init__(self, page: Any, site: str, batch: int, preferred: bool,
                 positions: tuple[int, ...] = POSITIONS, keystroke_text: str = document(2000),
                 model_url: str = "models/seed.ttc") -> None:
        self.page = page
        self.batch = batch
        self.keystroke_text = keystroke_text
        page.goto(f"{site}/bench/web/bench.html")
        page.wait_for_function("window.benchReady === true")
        self.setup = self.call(
            type="setup",
            wasmUrl=f"{site}/bench/engine.wasm",
            preferred=preferred,
            modelUrl=f"{site}/{model_url}",
            decodeIds=[[position, decode_ids(position)] for position in positions],
        )
        self.kernels = self.setup["kernels"]

    def call(self, **message: Any) -> Any:
        return self.page.evaluate("(message) => window.benchCall(message)", message)

    def decode(self, position: int, repeats: int) -> tuple[int, float]:
        result = self.call(type="decode", position=position, repeats=repeats, batch=self.batch)
        return result["tokens"], result["seconds"]

    def keystrokes(self, repeats: int) -> tuple[list[float], list[str]]:
        result = self.call(
            type="keystrokes", text=self.keystroke_text, repeats=repeats, maxChars=SUGGESTION_CHARS
        )
        return result["times"], result["suggestions"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model file (default: random seed-size)")
    parser.add_argument(
        "--wasm",
        type=Path,
        help="engine module to time in the browser, as it is (default: the module "
        "web_demo/engine.js prefers there, engine-relaxed.wasm or engine.wasm)",
    )
    parser.add_argument(
        "--native-kernels",
        help="kernels of the native column, e.g. avx2 (default: the best this CPU has)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument(
        "--decodes",
        type=int,
        default=200,
        help="decode steps per position and round (native best and wasm; generic gets a tenth)",
    )
    parser.add_argument(
        "--keystrokes",
        type=int,
        default=20,
        help="keystrokes per round (native best and wasm; generic gets 3)",
    )
    parser.add_argument(
        "--batch", type=int, default=50, help="decode steps per timed batch in the browser"
    )
    args = parser.parse_args()

    log = partial(print, file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        model_path = args.model or export_seed_model(directory)
        model = Model.load(model_path)
        site_root = make_site(directory, model_path, args.wasm)
        with static_site(site_root, isolated=True) as site, chromium() as browser:
            page = browser.new_page()
            page.set_default_timeout(600_000)
            log("setting up: native sessions (best, generic), Chromium worker ...")
            paths: dict[str, Any] = {
                "native": NativePath(model, args.native_kernels),
                "generic": NativePath(model, "generic"),
                "wasm": WasmPath(page, site, args.batch, preferred=args.wasm is None),
            }
            setup = paths["wasm"].setup
            chromium_version = browser.version

            # Warm-up (not counted): the browser compiles hot WebAssembly
            # functions again with its optimising compiler after a while.
            for name in ("native", "wasm"):
                for position in POSITIONS:
                    paths[name].decode(position, 20)
                paths[name].keystrokes(3)

            decode = {(name, p): [0, 0.0] for name in PATHS for p in POSITIONS}
            per_round: dict[tuple[str, int], list[float]] = {}
            typing: dict[str, list[float]] = {name: [] for name in PATHS}
            typing_round: dict[str, list[float]] = {name: [] for name in PATHS}
            for round_index in range(args.rounds):
                order = PATHS if round_index % 2 == 0 else PATHS[::-1]
                for position in POSITIONS:
                    for name in order:
                        repeats = max(args.decodes // 10, 5) if name == "generic" else args.decodes
                        tokens, seconds = paths[name].decode(position, repeats)
                        decode[name, position][0] += tokens
                        decode[name, position][1] += seconds
                        per_round.setdefault((name, position), []).append(tokens / seconds)
                suggestions = {}
                for name in order:
                    repeats = 3 if name == "generic" else args.keystrokes
                    times, suggestions[name] = paths[name].keystrokes(repeats)
                    typing[name] += times
                    typing_round[name].append(statistics.median(times))
                # The engine is bit-identical everywhere: so are the suggestions.
                if suggestions["wasm"] != suggestions["native"]:
                    raise SystemExit("WebAssembly and native suggestions differ")
                if suggestions["generic"] != suggestions["native"][:3]:
                    raise SystemExit("generic and best-kernel suggestions differ")
                lengths = {len(s) for s in suggestions["native"]}
                log(
                    f"round {round_index + 1}/{args.rounds}: "
                    + ", ".join(
                        f"{p}: wasm {per_round['wasm', p][-1]:.0f} vs native "
                        f"{per_round['native', p][-1]:.0f} tok/s"
                        for p in POSITIONS
                    )
                    + f"; keystroke median wasm {1000 * typing_round['wasm'][-1]:.1f} vs native "
                    f"{1000 * typing_round['native'][-1]:.1f} ms; suggestion lengths {lengths}"
                )
            browser.close()

    info = model.info
    print(
        f"model: dim {info.dim}, {info.n_layers} layers, {info.n_heads} heads, "
        f"hidden {info.hidden_dim}, window {info.window}, {info.parameters:,} parameters"
    )
    print(
        f"native kernels: {paths['native'].kernels}"
        f"{'' if args.native_kernels else ' (best)'}, {paths['generic'].kernels}; "
        f"single thread"
    )
    print(
        f"wasm: {args.wasm or 'web_demo/engine.js preferred module'} in Chromium "
        f"{chromium_version} headless, variant {setup['variant']}"
        f"{' (' + setup['fallbackReason'] + ')' if setup['fallbackReason'] else ''}, "
        f"kernels {paths['wasm'].kernels}, "
        f"engine in a dedicated worker; crossOriginIsolated {setup['crossOriginIsolated']}, "
        f"performance.now() step {1000 * setup['timerResolutionMs']:.0f} µs"
    )
    print(
        f"{args.rounds} interleaved rounds; per round: {args.decodes} decode steps per position "
        f"(generic {max(args.decodes // 10, 5)}), {args.keystrokes} keystrokes (generic 3)\n"
    )

    rows: list[tuple[str, str, dict[str, float], Callable[[dict[str, float]], float]]] = []
    slower_rate = lambda v: v["native"] / v["wasm"]  # noqa: E731
    slower_time = lambda v: v["wasm"] / v["native"]  # noqa: E731
    for position in POSITIONS:
        values = {name: decode[name, position][0] / decode[name, position][1] for name in PATHS}
        rows.append((f"decode at position {position}", "tokens/s", values, slower_rate))
    rows.append(
        (
            "keystroke latency, median",
            "ms",
            {name: 1000 * statistics.median(typing[name]) for name in PATHS},
            slower_time,
        )
    )
    rows.append(
        (
            "keystroke latency, p90",
            "ms",
            {name: 1000 * percentile(typing[name], 0.9) for name in PATHS},
            slower_time,
        )
    )

    native_title = f"native ({args.native_kernels or 'best'})"
    print(
        f"| {'measure':<26} | {'unit':<8} | {native_title:>13} | {'native generic':>14} "
        f"| {'wasm (Chromium)':>15} | wasm / native |"
    )
    print(f"|{'-' * 28}|{'-' * 10}|{'-' * 15}|{'-' * 16}|{'-' * 17}|{'-' * 15}|")
    ratios = []
    for measure, unit, values, ratio_of in rows:
        ratio = ratio_of(values)
        ratios.append(ratio)
        print(
            f"| {measure:<26} | {unit:<8} | {values['native']:>13.1f} | {values['generic']:>14.1f} "
            f"| {values['wasm']:>15.1f} | {ratio:>12.2f}x |"
        )
    print(
        "\nwasm / native: how many times slower WebAssembly is (time per token or per keystroke)."
    )
    spread = [
        f"{p}: "
        + ", ".join(
            f"{n / w:.2f}"
            for n, w in zip(per_round["native", p], per_round["wasm", p], strict=True)
        )
        for p in POSITIONS
    ]
    spread.append(
        "keystroke median: "
        + ", ".join(
            f"{w / n:.2f}"
            for n, w in zip(typing_round["native"], typing_round["wasm"], strict=True)
        )
    )
    print("per round, wasm / native: decode at " + "; ".join(spread))
    worst = max(ratios)
    verdict = "met" if worst <= TARGET else "NOT met"
    print(
        f"target (WebAssembly within {TARGET:g}x of native single-thread, {native_title}): "
        f"{verdict}; worst ratio {worst:.2f}x"
    )


if __name__ == "__main__":
    main()
