"""The C and node test programs, run from pytest so that one command runs everything."""

import json
import re
import resource
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from ttcc.engine import Model

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "engine_c"


def run(command: list[str]) -> str:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output


def test_fast_kernels_equal_the_reference() -> None:
    output = run(["make", "-s", "-C", str(ENGINE), "test-kernels"])
    assert output.rstrip().endswith(" passed, 0 failed")


def test_engine_under_address_and_undefined_behaviour_sanitizers(tiny_model_path: Path) -> None:
    output = run(["make", "-s", "-C", str(ENGINE), "test-sanitize", f"MODEL={tiny_model_path}"])
    assert output.rstrip().endswith(" passed, 0 failed")
    assert "ERROR: AddressSanitizer" not in output and "runtime error" not in output


def test_webassembly_simd128_kernels_under_node() -> None:
    output = run(["node", "--test", "tests/node/"])
    assert "# fail 0" in output and "# pass 0" not in output


def test_neon_kernels_equal_the_reference_on_arm_under_qemu(tmp_path: Path) -> None:
    """No Arm machine here: the kernel test built for AArch64 by gcc and by clang, each
    for armv8-a and armv8.2-a+dotprod, run under qemu-aarch64 (make test-kernels-arm)."""
    output = run(["make", "-s", "-C", str(ENGINE), "test-kernels-arm"])
    lines = output.splitlines()
    totals = [line for line in lines if re.fullmatch(r"\d+ passed, \d+ failed", line)]
    assert len(totals) == 4, output[-4000:]
    assert all(line.endswith(" passed, 0 failed") for line in totals), output[-4000:]
    # The NEON kernels were tested in every build, not skipped.
    neon = [line for line in lines if line.startswith("neon:")]
    assert len(neon) == 4, output[-4000:]
    assert all(re.fullmatch(r"neon: [1-9]\d* passed, 0 failed", line) for line in neon)
    # The dotprod builds run the dot-product path: on a CPU without those instructions
    # (the Cortex-A53, where the armv8-a builds just passed) they die of SIGILL.
    for compiler in ("gcc", "clang"):
        binary = ENGINE / "build" / f"test_kernels_arm_{compiler}_dotprod"
        result = subprocess.run(
            ["qemu-aarch64", "-cpu", "cortex-a53", str(binary)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0)),
        )
        assert result.returncode == -signal.SIGILL, result.stdout[-2000:] + result.stderr


def test_kernel_profiler_builds_and_accounts_for_the_step(tiny_model_path: Path) -> None:
    """bench/bench_kernels.py's profiler, native and (built only) WebAssembly: the timed
    kernels and the rest are parts of a step, none negative."""
    run(["make", "-s", "-C", str(ENGINE), "kernel-profile"])
    output = run([str(ENGINE / "build" / "kernel_profile"), str(tiny_model_path), "generic",
                  "40", "20"])
    profile = json.loads(output)
    assert profile["kernels"] == "generic"
    step, *parts = profile["fields"]
    assert step > 0 and len(parts) == 7 and all(part >= 0 for part in parts)
    assert parts[0] > 0  # the matrix products run on every step
    assert profile["unpacked"] is None  # generic kernels keep no packed copy
    # The products measured alone go through every matrix of the model once.
    info = Model.load(tiny_model_path).info
    kv_dim = info.dim // info.n_heads * info.n_kv_heads
    layer = 2 * info.dim * info.dim + 2 * kv_dim * info.dim + 3 * info.hidden_dim * info.dim
    matrices = info.n_layers * layer + info.vocab_size * info.dim
    assert profile["products"]["mb"] == pytest.approx(matrices / 1e6, abs=1e-3)
    assert all(rate > 0 for rate in profile["products"]["gbps"])
    # The best kernels: where they keep packed copies (AVX-512 VNNI), the pass without too.
    best = json.loads(run([str(ENGINE / "build" / "kernel_profile"), str(tiny_model_path), "",
                           "40", "20"]))
    for fields in filter(None, [best["fields"], best["unpacked"]]):
        assert len(fields) == 8 and fields[0] > 0 and all(part >= 0 for part in fields[1:])
    # Passes of 8 tokens (drafted decoding's verify pass), up to the window's end.
    verify = json.loads(run([str(ENGINE / "build" / "kernel_profile"), str(tiny_model_path),
                             "generic", "248", "20", "8"]))
    step, *parts = verify["fields"]
    assert step > 0 and parts[0] > 0 and all(part >= 0 for part in parts)
    for arguments in (["no-such-kernels", "40", "20"], ["generic", "250", "20", "8"]):
        failed = subprocess.run([str(ENGINE / "build" / "kernel_profile"), str(tiny_model_path),
                                 *arguments], capture_output=True, text=True)
        assert failed.returncode == 1 and "cannot profile" in failed.stderr
    with tempfile.TemporaryDirectory() as directory:
        module = Path(directory) / "profile.wasm"
        run(["bash", "web_demo/build_wasm.sh", "--profile", str(module)])
        assert module.read_bytes()[:4] == b"\0asm"
