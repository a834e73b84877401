// The kernel test, engine_c/tests/test_kernels.c (every fast kernel against the
// generic one, bit for bit, and the generic ones against their definitions),
// built for wasm32-wasi with SIMD128 (`make -C engine_c wasm-test-kernels`) and
// run here through wasi.mjs. The relaxed SIMD build runs in Chromium
// (tests/web/test_wasm_relaxed_kernels.py): node 20's relaxed SIMD computes its
// dot product differently.
//
// Run: node --test tests/node/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { runWasi } from './wasi.mjs';

const ENGINE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'engine_c');

test('the SIMD128 kernels equal the generic ones (engine_c/tests/test_kernels.c)', async () => {
  execFileSync('make', ['-s', '-C', ENGINE, 'wasm-test-kernels'], { stdio: 'inherit' });
  const bytes = readFileSync(path.join(ENGINE, 'build', 'test_kernels.wasm'));
  const { exitCode, output } = await runWasi(bytes);
  assert.equal(exitCode, 0, output);
  assert.match(output, /^wasm: [1-9]\d* passed, 0 failed$/m, output);
  assert.match(output, /^\d+ passed, 0 failed\n$/m, output);
});
