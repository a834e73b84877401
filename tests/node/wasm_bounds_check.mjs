// Loads damaged copies of a model file (wasm_bounds.mjs's damagedCopies) into
// web_demo/engine.wasm, each at the very end of the module's memory, and
// prints what each load gave as JSON, for tests/web/test_wasm_bounds.py to
// compare with the native engine:
//
//   node tests/node/wasm_bounds_check.mjs MODEL STEP
//
// prints [{"damage": {...}, "message": the engine's text for the status}, ...].
// A read past a file traps, and the script then fails with a RuntimeError.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { boundedEngine, damagedCopies } from './wasm_bounds.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const [modelPath, step] = process.argv.slice(2);
if (!modelPath || !(Number(step) >= 1)) {
  console.error('usage: node tests/node/wasm_bounds_check.mjs MODEL STEP');
  process.exit(2);
}
const good = new Uint8Array(readFileSync(modelPath));
const moduleBytes = readFileSync(path.join(ROOT, 'web_demo', 'engine.wasm'));
const engine = boundedEngine(moduleBytes, { largestFile: good.length, spareBytes: 32 << 20 });
const results = [];
for (const { damage, file } of damagedCopies(good, Number(step))) {
  results.push({ damage, message: engine.message(engine.load(file, 0, false).status) });
}
console.log(JSON.stringify(results));
