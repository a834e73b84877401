"""Where a decode step's time goes, per kernel: the native engine (best kernels of this
CPU) next to the WebAssembly engine (the relaxed-SIMD module) in headless Chromium.

    python bench/bench_kernels.py [--model PATH] [--positions 256,1024,2000] [--repeats N]
                                  [--rounds N] [--tokens 1,8]

Builds engine_c/build/kernel_profile (`make -C engine_c kernel-profile`) and a
relaxed-SIMD module with the same profiler (`web_demo/build_wasm.sh --profile`), both
from engine_c/tests/kernel_profile.c: forward passes at a KV-cache position, each kernel
call timed. Without --model, a randomly initialised seed-size model (speed does not
depend on the weights). Native and wasm alternate within each round; the table gives the
median over the rounds, in milliseconds per pass (one decode step unless --tokens).
"step" is a pass with no timer inside; the kernel rows and "rest" (everything outside
the kernels) come from a second run with every kernel call timed, so they add up to a
little more than "step". --tokens 1,8 also profiles passes of 8 new tokens (the verify
pass of drafted decoding) and gives each part's cost against one token's. Where the native
kernels keep packed copies (the x86 sets: the weights, and the keys whose scores several
queries take at once), the same pass without them (the weights in the file's layout, the
scores one query at a time) is profiled too, side by side. Last, the native one-token
matrix products alone: through all the model's weights, each matrix once, through its
largest matrix again and again (held in the caches nearest the core), and within the
profiled passes, in GB/s of weights. Where the first two are alike, the products are bound
by compute, not by memory.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_engine import cpu_name, export_seed_model  # noqa: E402
from tests.browser import chromium, static_site  # noqa: E402

FIELDS = ("step", "matmul", "attention scores", "attention values", "softmax",
          "gated activation", "quantize", "rest")
NATIVE = ROOT / "engine_c" / "build" / "kernel_profile"

# In the page: the profiler module with performance.now() as its clock.
WASM_PROFILE = """async ([position, repeats, tokens, fields]) => {
  if (!window.profiler) {
    const imports = { env: { now: () => performance.now() } };
    const module = await WebAssembly.instantiateStreaming(fetch('profile.wasm'), imports);
    const wasm = module.instance.exports;
    const model = new Uint8Array(await (await fetch('model.ttc')).arrayBuffer());
    const modelAt = wasm.buffer_alloc(model.length);
    new Uint8Array(wasm.memory.buffer).set(model, modelAt);
    const nameAt = wasm.buffer_alloc(8);
    new Uint8Array(wasm.memory.buffer).set(new TextEncoder().encode('wasm\\0'), nameAt);
    window.profiler = { wasm, modelAt, size: model.length, nameAt };
  }
  const { wasm, modelAt, size, nameAt } = window.profiler;
  const at = wasm.kernel_profile(modelAt, size, nameAt, position, repeats, tokens);
  if (at === 0) throw new Error('kernel_profile failed');
  return Array.from(new Float64Array(wasm.memory.buffer, at, fields));
}"""


def build(directory: Path) -> Path:
    """Builds the native profiler and the wasm one; the wasm module's path."""
    subprocess.run(["make", "-s", "-C", "engine_c", "kernel-profile"], cwd=ROOT, check=True)
    module = directory / "profile.wasm"
    subprocess.run(["bash", "web_demo/build_wasm.sh", "--profile", str(module)], cwd=ROOT,
                   check=True)
    return module


def native_profile(model: Path, position: int, repeats: int, tokens: int) -> dict:
    """The native profiler's findings: "kernels" (their name), "fields", "unpacked" (the
    fields without the packed copies where the kernels keep them, else None) and
    "products" (the one-token matrix products alone: "mb" of weights, "gbps" through
    them all and through the largest matrix again and again)."""
    command = [str(NATIVE), str(model), "", str(position), str(repeats), str(tokens)]
    return json.loads(subprocess.run(command, capture_output=True, text=True,
                                     check=True).stdout)


def median_of(runs: list[list[float]], index: int) -> float:
    return statistics.median(run[index] for run in runs)


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}x" if denominator > 0 else "-"


def table(passes: list[tuple[int, int]], native: dict, wasm: dict, unpacked: dict) -> str:
    """One row per (position, tokens) and part; against one token where it was measured;
    the native kernels without their packed copies where they keep them."""
    lines = ["| position | tokens | part | native ms | wasm ms | wasm / native "
             "| native / 1 token | wasm / 1 token | native, unpacked ms "
             "| unpacked / packed |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for position, tokens in passes:
        for index, name in enumerate(FIELDS):
            n, w = (median_of(runs[position, tokens], index) for runs in (native, wasm))
            without_packing = ["-", "-"]
            if unpacked[position, tokens]:
                u = median_of(unpacked[position, tokens], index)
                without_packing = [f"{u:.4f}", ratio(u, n)]
            against_one = ["-", "-"]
            if tokens > 1 and (position, 1) in native:
                against_one = [ratio(value, median_of(runs[position, 1], index))
                               for value, runs in ((n, native), (w, wasm))]
            lines.append(f"| {position} | {tokens} | {name} | {n:.4f} | {w:.4f} "
                         f"| {ratio(w, n)} | {' | '.join(against_one + without_packing)} |")
    return "\n".join(lines)


def products_line(products: list[dict], passes: list[tuple[int, int]], native: dict) -> str:
    """The native one-token matrix products alone, and within the profiled decode steps."""
    megabytes = products[0]["mb"]
    walk, cached = (statistics.median(found["gbps"][i] for found in products) for i in (0, 1))
    within = [f"{megabytes / median_of(native[key], FIELDS.index('matmul')):.1f} GB/s at "
              f"position {key[0]}" for key in passes if key[1] == 1]
    return (f"native one-token matrix products, GB/s of weights (median of the runs' means): "
            f"alone through the model's {megabytes:.1f} MB {walk:.1f}, through its largest "
            f"matrix again and again (cached) {cached:.1f} ({cached / walk:.2f}x)"
            + (f"; within the decode steps {', '.join(within)}" if within else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a .ttc file (default: random seed size)")
    parser.add_argument("--positions", default="256,1024,2000",
                        help="KV-cache positions, comma-separated")
    parser.add_argument("--repeats", type=int, default=200, help="passes per measure")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--tokens", default="1",
                        help="new tokens per pass, comma-separated (1: a decode step)")
    args = parser.parse_args()
    passes = [(int(position), int(tokens)) for position in args.positions.split(",")
              for tokens in args.tokens.split(",")]

    with tempfile.TemporaryDirectory(prefix="ttcc-bench-kernels-") as name:
        directory = Path(name)
        build(directory)
        model = args.model or export_seed_model(directory)
        shutil.copy(model, directory / "model.ttc")
        native: dict[tuple[int, int], list[list[float]]] = {key: [] for key in passes}
        wasm: dict[tuple[int, int], list[list[float]]] = {key: [] for key in passes}
        unpacked: dict[tuple[int, int], list[list[float]]] = {key: [] for key in passes}
        products: list[dict] = []
        # Cross-origin isolated: performance.now() steps 5 µs there instead of 100 µs.
        with static_site(directory, isolated=True) as site, chromium() as browser:
            page = browser.new_page()
            page.goto(f"{site}/")  # the folder's listing: a page of the site, for fetch
            for round_index in range(args.rounds):
                for position, tokens in passes:
                    for path in ("native", "wasm") if round_index % 2 else ("wasm", "native"):
                        if path == "native":
                            found = native_profile(model, position, args.repeats, tokens)
                            kernels = found["kernels"]
                            native[position, tokens].append(found["fields"])
                            if found["unpacked"]:
                                unpacked[position, tokens].append(found["unpacked"])
                            products.append(found["products"])
                        else:
                            wasm[position, tokens].append(page.evaluate(
                                WASM_PROFILE, [position, args.repeats, tokens, len(FIELDS)]))
                print(f"round {round_index + 1}/{args.rounds} done", file=sys.stderr)
            browser_version = browser.version
    print(f"{cpu_name()}; native: kernels {kernels}, one thread; wasm: the relaxed-SIMD module in "
          f"headless Chromium {browser_version}; {args.repeats} passes per measure, "
          f"median of {args.rounds} interleaved rounds; ms per pass of the tokens\n")
    print(table(passes, native, wasm, unpacked))
    print()
    print(products_line(products, passes, native))
    return 0


if __name__ == "__main__":
    sys.exit(main())
