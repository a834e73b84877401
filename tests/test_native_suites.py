"""The C and node test programs, run from pytest so that one command runs everything."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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


def test_neon_kernels_compile_for_arm(tmp_path: Path) -> None:
    """No Arm machine here: compile the NEON kernels for aarch64 (with and without
    the dot-product extension) so they at least build warning-free."""
    for march in ("armv8-a", "armv8.2-a+dotprod"):
        for source in ("kernels_neon.c", "kernels_generic.c", "kernels_select.c"):
            run(
                [
                    "clang",
                    "--target=aarch64-linux-gnu",
                    f"-march={march}",
                    "-ffreestanding",
                    "-std=c11",
                    "-O2",
                    "-Wall",
                    "-Wextra",
                    "-Werror",
                    "-ffp-contract=off",
                    "-c",
                    str(ENGINE / source),
                    "-o",
                    str(tmp_path / f"{source}.o"),
                ]
            )
