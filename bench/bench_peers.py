"""ttcc's engine against what a user would run instead, side by side in one run (one thread).

    python bench/bench_peers.py [--model PATH] [--repeats N] [--no-browser]

The peers are onnxruntime on the CPU and onnxruntime-web in Chromium (wasm, one thread,
bench/web/ort_worker.mjs), with the same weights: the model (read back from its .ttc) is
exported to ONNX as one decoding step with its key/value cache as inputs and outputs,
and quantised to int8 the way onnxruntime quantises a model (`quantize_dynamic`, int8
weights). ttcc runs natively and, in the same Chromium, as the demo's wasm engine in a
worker (bench/web/worker.mjs). Printed: decode tokens/s at three positions, and the
latency of a keystroke at the end of a 2000-character document (one typed character,
then a suggestion forced to 32 characters: 33 decoding steps). The bench also measures
this machine's copy bandwidth on a working set the size of one decoding step's (weights
plus the key/value cache at position 2000) and prints ttcc's decode at 2000 as a share
of the rate that bandwidth allows. Without --model a randomly initialised seed-size
model is used: speed does not depend on the weights.
"""

from __future__ import annotations

import argparse
import logging
import math
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_engine import (  # noqa: E402
    SUGGESTION_CHARS,
    cpu_name,
    decode_rate,
    document,
    export_seed_model,
    keystroke_latency,
)
from bench.bench_web import WasmPath  # noqa: E402
from tests.browser import chromium, static_site  # noqa: E402
from training.export import load_ttc  # noqa: E402
from training.model import Transformer  # noqa: E402
from ttcc.engine import Model  # noqa: E402

POSITIONS = (256, 1024, 2000)
KEYSTROKE_POSITION = 2000  # or as near as the window allows


class DecodeStep(nn.Module):
    """One token through the model, its key/value cache passed in and out: what
    onnxruntime runs for each generated token ([layers, 1, kv heads, positions, head_dim]
    caches, logits of the token)."""

    def __init__(self, model: Transformer) -> None:
        super().__init__()
        self.model = model

    def forward(self, token: Tensor, position: Tensor, past_keys: Tensor, past_values: Tensor
                ) -> tuple[Tensor, Tensor, Tensor]:
        model, cfg = self.model, self.model.config
        head_dim, heads, kv_heads = cfg.head_dim, cfg.n_heads, cfg.kv_heads
        cos = model.rope_cos.index_select(0, position)[None, :, None, :]
        sin = model.rope_sin.index_select(0, position)[None, :, None, :]

        def rope(t: Tensor) -> Tensor:  # the interleaved pairs (2i, 2i+1) of each head
            pairs = t.view(*t.shape[:-1], head_dim // 2, 2)
            a, b = pairs[..., 0], pairs[..., 1]
            return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).view(t.shape)

        x = model.tok_embeddings(token)
        keys_out, values_out = [], []
        for i, layer in enumerate(model.blocks):
            attention, normed = layer.attention, layer.attention_norm(x)
            q = rope(attention.wq(normed).view(1, 1, heads, head_dim))
            k = rope(attention.wk(normed).view(1, 1, kv_heads, head_dim))
            v = attention.wv(normed).view(1, 1, kv_heads, head_dim)
            keys = torch.cat((past_keys[i], k.transpose(1, 2)), dim=2)
            values = torch.cat((past_values[i], v.transpose(1, 2)), dim=2)
            keys_out.append(keys)
            values_out.append(values)
            repeat = heads // kv_heads
            if repeat > 1:
                keys, values = (t.repeat_interleave(repeat, dim=1) for t in (keys, values))
            scores = q.transpose(1, 2) @ keys.transpose(2, 3) / math.sqrt(head_dim)
            out = torch.softmax(scores, dim=-1) @ values
            x = x + attention.wo(out.transpose(1, 2).reshape(1, 1, heads * head_dim))
            x = x + layer.feed_forward(layer.ffn_norm(x))
        return model.output(model.norm(x))[:, -1, :], torch.stack(keys_out), torch.stack(values_out)


class OnnxDecoder:
    """The model in onnxruntime, int8, one thread."""

    def __init__(self, ttc_path: Path, folder: Path) -> None:
        model, _ = load_ttc(ttc_path)
        model.eval()
        cfg = model.config
        self.cache_shape = (cfg.n_layers, 1, cfg.kv_heads, 0, cfg.head_dim)
        empty = torch.zeros(self.cache_shape)
        example = (torch.tensor([[65]]), torch.tensor([0]), empty, empty)
        float_path, int8_path = folder / "model.onnx", folder / "model.int8.onnx"
        names = {"past_keys": {3: "past"}, "past_values": {3: "past"},
                 "keys": {3: "present"}, "values": {3: "present"}}  # fmt: skip
        with warnings.catch_warnings():  # the TorchScript exporter is deprecated, not gone
            warnings.simplefilter("ignore")
            torch.onnx.export(DecodeStep(model), example, str(float_path), dynamo=False,
                              input_names=["token", "position", "past_keys", "past_values"],
                              output_names=["logits", "keys", "values"], dynamic_axes=names,
                              opset_version=17)  # fmt: skip
        logging.getLogger().setLevel(logging.ERROR)  # quantize_dynamic's advice on the root logger
        quantize_dynamic(str(float_path), str(int8_path), weight_type=QuantType.QInt8)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(int8_path), options,
                                                    providers=["CPUExecutionProvider"])
        self.int8_path = int8_path

    def step(self, token: int, position: int, keys: np.ndarray, values: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        logits, keys, values = self.session.run(None, {
            "token": np.array([[token]], dtype=np.int64),
            "position": np.array([position], dtype=np.int64),
            "past_keys": keys, "past_values": values})  # fmt: skip
        return logits, keys, values

    def cache(self, positions: int) -> tuple[np.ndarray, np.ndarray]:
        """A cache of that many positions (random: the speed does not depend on it)."""
        shape = (*self.cache_shape[:3], positions, self.cache_shape[4])
        rng = np.random.default_rng(0)
        return (rng.standard_normal(shape, dtype=np.float32),
                rng.standard_normal(shape, dtype=np.float32))

    def decode_rate(self, position: int, repeats: int) -> float:
        keys, values = self.cache(position)
        self.step(65, position, keys, values)
        best = min(timed(lambda: self.step(65, position, keys, values)) for _ in range(repeats))
        return 1 / best

    def keystroke_seconds(self, at: int, repeats: int) -> float:
        """The typed character and 32 greedy characters after it, from a cache of `at`."""
        start_keys, start_values = self.cache(at)

        def keystroke() -> None:
            keys, values, token = start_keys, start_values, ord("z")
            for position in range(at, at + 1 + SUGGESTION_CHARS):
                logits, keys, values = self.step(token, position, keys, values)
                token = int(logits[0].argmax())

        return sorted(timed(keystroke) for _ in range(repeats))[repeats // 2]


class OrtWebPath:
    """onnxruntime-web in a Chromium page's worker (bench/web/ort_worker.mjs)."""

    def __init__(self, page: Any, site: str, model_url: str, cache_shape: tuple) -> None:
        self.page = page
        page.goto(f"{site}/bench/web/bench.html?worker=ort_worker.mjs")
        page.wait_for_function("window.benchReady === true")
        self.version = self.call(type="setup", modelUrl=f"{site}/{model_url}",
                                 cacheShape=list(cache_shape))["version"]  # fmt: skip

    def call(self, **message: Any) -> Any:
        return self.page.evaluate("(message) => window.benchCall(message)", message)

    def decode_rate(self, position: int, repeats: int) -> float:
        result = self.call(type="decode", position=position, repeats=repeats)
        return result["tokens"] / result["seconds"]

    def keystroke_seconds(self, at: int, repeats: int) -> float:
        times = self.call(type="keystrokes", position=at, repeats=repeats,
                          steps=1 + SUGGESTION_CHARS)["times"]  # fmt: skip
        return sorted(times)[len(times) // 2]


def in_chromium(model_path: Path, peer: OnnxDecoder, positions: list[int], keystroke_at: int,
                repeats: int, folder: Path) -> list[str]:
    """The table rows of onnxruntime-web against ttcc's wasm engine, both in workers of
    the same headless Chromium."""
    root = folder / "site"
    (root / "bench").mkdir(parents=True)
    (root / "bench" / "web").symlink_to(ROOT / "bench" / "web", target_is_directory=True)
    (root / "web_demo").symlink_to(ROOT / "web_demo", target_is_directory=True)
    for name in ("engine.wasm", "engine-relaxed.wasm"):  # where bench_web.WasmPath looks
        shutil.copy(ROOT / "web_demo" / name, root / "bench" / name)
    (root / "models").mkdir()
    shutil.copy(model_path, root / "models" / "model.ttc")
    shutil.copy(peer.int8_path, root / "models" / "model.int8.onnx")
    if not (ROOT / "bench" / "web" / "node_modules" / "onnxruntime-web").is_dir():
        raise SystemExit("onnxruntime-web is not installed: bash scripts/setup.sh")
    rows = []
    with static_site(root, isolated=True) as site, chromium() as browser:
        ours = WasmPath(browser.new_page(), site, batch=10, preferred=True,
                        positions=tuple(positions), keystroke_text=document(keystroke_at),
                        model_url="models/model.ttc")  # fmt: skip
        theirs = OrtWebPath(browser.new_page(), site, "models/model.int8.onnx",
                            peer.cache_shape)  # fmt: skip
        for position in positions:
            ours.decode(position, 5)  # warm-up: the browser optimises hot code after a while
            theirs.decode_rate(position, 2)
            tokens, seconds = ours.decode(position, 10 * repeats)
            their_rate, our_rate = theirs.decode_rate(position, repeats), tokens / seconds
            rows.append(f"| Chromium: decode at position {position} | tokens/s "
                        f"| {their_rate:.0f} | {our_rate:.0f} | {our_rate / their_rate:.1f}x |")
        ours.keystrokes(2)
        our_times, _ = ours.keystrokes(repeats)
        our_seconds = sorted(our_times)[len(our_times) // 2]
        their_seconds = theirs.keystroke_seconds(keystroke_at, max(3, repeats // 3))
        rows.append(f"| Chromium: keystroke at {keystroke_at} characters, median | ms "
                    f"| {1000 * their_seconds:.1f} | {1000 * our_seconds:.2f} "
                    f"| {their_seconds / our_seconds:.1f}x |")
        rows.append(f"\nChromium {browser.version} headless; onnxruntime-web {theirs.version} "
                    f"(wasm, one thread); ttcc's wasm engine {ours.setup['variant']}")
    return rows


def timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def copy_bandwidth(working_set: int, repeats: int) -> float:
    """Bytes/s read and written copying a buffer of half the working set into the other half."""
    half = max(working_set // 2, 1 << 16)
    source, target = np.ones(half, dtype=np.uint8), np.zeros(half, dtype=np.uint8)
    np.copyto(target, source)
    best = min(timed(lambda: np.copyto(target, source)) for _ in range(repeats))
    return 2 * half / best


def decode_bytes(model: Model, position: int) -> int:
    """What one decoding step reads: the weights and the int8 key/value cache up to
    position (a float scale per cached head vector)."""
    info = model.info
    kv_dim = info.dim // info.n_heads * info.n_kv_heads
    per_position = 2 * info.n_layers * (kv_dim + 4 * info.n_kv_heads)
    return info.file_size + per_position * position


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model file (default: random seed-size)")
    parser.add_argument("--repeats", type=int, default=15, help="samples per measurement")
    parser.add_argument("--no-browser", action="store_true",
                        help="leave out onnxruntime-web and ttcc's wasm engine in Chromium")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as scratch:
        path = args.model or export_seed_model(Path(scratch))
        model = Model.load(path)
        peer = OnnxDecoder(path, Path(scratch))
        info = model.info
        positions = [p for p in POSITIONS if p < info.window - 1] or [info.window // 2]
        keystroke_at = min(KEYSTROKE_POSITION, info.window - SUGGESTION_CHARS - 3)
        print(f"{cpu_name()}, one thread; model: dim {info.dim}, {info.n_layers} layers, "
              f"window {info.window}, {info.parameters:,} parameters; onnxruntime "
              f"{onnxruntime.__version__} (int8, quantize_dynamic), ttcc kernels "
              f"{model.session().kernels}\n")
        print("| measure | unit | onnxruntime | ttcc | ttcc vs onnxruntime |")
        print("|---|---|---|---|---|")
        ours_at = {}
        for position in positions:
            theirs = peer.decode_rate(position, args.repeats)
            ours_at[position] = decode_rate(model.session(), position, args.repeats)
            print(f"| decode at position {position} | tokens/s | {theirs:.0f} "
                  f"| {ours_at[position]:.0f} | {ours_at[position] / theirs:.1f}x |", flush=True)
        theirs = peer.keystroke_seconds(keystroke_at, max(3, args.repeats // 3))
        ours, _ = keystroke_latency(model.session(), args.repeats, keystroke_at)
        print(f"| keystroke at {keystroke_at} characters, median | ms "
              f"| {1000 * theirs:.1f} | {1000 * ours:.2f} | {theirs / ours:.1f}x |", flush=True)
        web_rows = [] if args.no_browser else in_chromium(
            path, peer, positions, keystroke_at, args.repeats, Path(scratch))
        position = max(positions)
        needed = decode_bytes(model, position)
        bandwidth = copy_bandwidth(needed, args.repeats)
        limit = bandwidth / needed
        print(f"\ncopy bandwidth on a {needed / 1e6:.1f} MB working set (one decoding step at "
              f"{position}): {bandwidth / 1e9:.1f} GB/s, which allows {limit:.0f} steps/s; "
              f"ttcc decodes {ours_at[position]:.0f} tokens/s there, "
              f"{100 * ours_at[position] / limit:.0f} % of it")
        if web_rows:
            print("\n| measure | unit | onnxruntime-web | ttcc (wasm) | ttcc vs onnxruntime-web |")
            print("|---|---|---|---|---|")
            print("\n".join(web_rows))


if __name__ == "__main__":
    main()
