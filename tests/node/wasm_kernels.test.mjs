// The WebAssembly SIMD128 kernels must give exactly the generic (scalar)
// kernels' results, compiled into the same wasm module: one node test per
// check of kernel_checks.mjs (which says what they compare), on
// build/wasm_kernels_test.wasm. The same checks run on the relaxed SIMD build
// of the module in Chromium (tests/web/test_wasm_relaxed_kernels.py): node 20's
// relaxed SIMD computes its dot product differently.
//
// Run: node --test tests/node/
// The test builds its module first with `make -C engine_c wasm-kernels-test`,
// which runs (from engine_c/):
//   clang --target=wasm32 -msimd128 -std=c11 -O2 -Wall -Wextra -Werror \
//     -nostdlib -ffreestanding -ffp-contract=off -I. \
//     -Wl,--no-entry -Wl,--export-dynamic -o build/wasm_kernels_test.wasm \
//     tests/wasm_kernels_main.c kernels_generic.c kernels_wasm.c kernels_select.c
import { before, test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { kernelChecks } from './kernel_checks.mjs';

const ENGINE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'engine_c');
const MODULE = path.join(ENGINE, 'build', 'wasm_kernels_test.wasm');

let wasm; // the module's exports

before(async () => {
  execFileSync('make', ['-s', '-C', ENGINE, 'wasm-kernels-test'], { stdio: 'inherit' });
  const { instance } = await WebAssembly.instantiate(readFileSync(MODULE), {});
  wasm = instance.exports;
});

for (const [name, check] of Object.entries(kernelChecks)) {
  test(name, () => check(wasm));
}
