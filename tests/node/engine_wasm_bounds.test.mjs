// web_demo/engine.wasm and engine-relaxed.wasm on damaged model files
// (wasm_bounds.mjs): every truncation, and every byte with one bit flipped,
// with and without its checksum made right, of the small models of the fuzz corpus
// (engine_c/fuzz/loader_corpus). No load may read past the file (that would
// trap) or depend on the bytes before it, or grow the memory, and a damaged
// model that loads must complete without trapping. tests/web/test_wasm_bounds.py
// compares the statuses with the native engine's.
//
// Run: node --test tests/node/
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { boundedEngine, damagedCopies } from './wasm_bounds.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// Both modules; the relaxed-SIMD one where this node runs relaxed SIMD
// (node 20: --experimental-wasm-relaxed-simd, which tests/engine/test_native_suites.py passes).
const MODULES = ['engine.wasm', 'engine-relaxed.wasm'];
const CORPUS = path.join(ROOT, 'engine_c', 'fuzz', 'loader_corpus');
const TRUNCATED = 3;
const BAD_CHECKSUM = 8;

const moduleBytes = new Map(); // name -> bytes, for the modules this node can run

before(() => {
  if (!MODULES.every((name) => existsSync(path.join(ROOT, 'web_demo', name)))) {
    execFileSync('bash', [path.join(ROOT, 'web_demo', 'build_wasm.sh')], { stdio: 'inherit' });
  }
  for (const name of MODULES) {
    const bytes = readFileSync(path.join(ROOT, 'web_demo', name));
    if (WebAssembly.validate(bytes)) moduleBytes.set(name, bytes);
  }
  assert.ok(moduleBytes.has('engine.wasm'));
});

const engineFor = (module, file) =>
  boundedEngine(moduleBytes.get(module), { largestFile: file.length, spareBytes: 32 << 20 });

test('the harness works: a read one byte past the file traps', () => {
  const engine = engineFor('engine.wasm', new Uint8Array(64));
  assert.equal(engine.readPastTheEnd(16, 0), 0);
  assert.throws(() => engine.readPastTheEnd(16, 1), WebAssembly.RuntimeError);
});

// step: damage every byte of tiny.ttc, every 5th byte of session.ttc after its header.
for (const module of MODULES) {
  for (const [name, step] of [['tiny.ttc', 1], ['session.ttc', 5]]) {
    test(`${module}, ${name}: damaged copies load or fail the same whatever lies before them`,
      (context) => {
        if (!moduleBytes.has(module)) {
          context.skip(`this node does not run ${module}`);
          return;
        }
        checkDamagedCopies(module, name, step);
      });
  }
}

function checkDamagedCopies(module, name, step) {
  const good = new Uint8Array(readFileSync(path.join(CORPUS, name)));
  const engine = engineFor(module, good);
  assert.equal(engine.load(good, 0, true).completed, 0);
  const seen = new Map(); // status -> count, for the repaired flips
  for (const { damage, file } of damagedCopies(good, step)) {
    const outcome = engine.load(file, 0x00, true);
    assert.equal(engine.load(file, 0xff, false).status, outcome.status, JSON.stringify(damage));
    if ('truncate' in damage) {
      assert.equal(outcome.status, TRUNCATED, JSON.stringify(damage));
    } else if (!damage.repaired) {
      assert.notEqual(outcome.status, 0, JSON.stringify(damage));
    } else {
      seen.set(outcome.status, (seen.get(outcome.status) ?? 0) + 1);
      if (outcome.status === 0) assert.equal(outcome.completed, 0, JSON.stringify(damage));
    }
  }
  // The repaired flips reach the checks behind the checksum: some load, and
  // the header, layout and weight checks each reject some.
  assert.ok(seen.get(0) > 0 && !seen.has(BAD_CHECKSUM), JSON.stringify([...seen]));
  assert.ok(seen.size >= 4, JSON.stringify([...seen]));
}
