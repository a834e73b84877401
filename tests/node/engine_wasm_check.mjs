// Runs completion cases through the WebAssembly engine (web_demo/engine.js,
// with the module it prefers here: engine-relaxed.wasm where relaxed SIMD runs
// exactly, else engine.wasm) and prints the results as JSON, for
// tests/web/test_wasm_engine.py to compare with the native engine.
//
//   node tests/node/engine_wasm_check.mjs MODEL CASES.json [MODULE]
//
// MODULE: "preferred" (default, loadPreferredEngine), "simd128" (engine.wasm)
// or "relaxed" (engine-relaxed.wasm as it is, without its self-check).
// CASES.json: {"cases": [{"prefix", "suffix", "options": {"multiline",
// "max_chars", "min_confidence", "document_memory", "memory_text"}}, ...]}
// (options as in ttcc/engine.py, each optional). All cases run in order in one session, as the native side does.
// Prints runCases' object (tests/node/engine_cases.mjs): {"variant",
// "fallbackReason", "selfCheck", "kernels", "info", "metadata", "results",
// "memory"}, or {"error": message} for a model that does not load.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadEngine, loadPreferredEngine, RELAXED_MODULE, SIMD128_MODULE } from '../../web_demo/engine.js';
import { runCases } from './engine_cases.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const [modelPath, casesPath, which = 'preferred'] = process.argv.slice(2);
if (!modelPath || !casesPath || !['preferred', 'simd128', 'relaxed'].includes(which)) {
  console.error('usage: node tests/node/engine_wasm_check.mjs MODEL CASES.json [preferred|simd128|relaxed]');
  process.exit(2);
}

const moduleBytes = (name) => readFileSync(path.join(ROOT, 'web_demo', name));
let engine;
if (which === 'preferred') engine = await loadPreferredEngine(moduleBytes);
else engine = await loadEngine(moduleBytes(which === 'relaxed' ? RELAXED_MODULE : SIMD128_MODULE));

const { cases, draftTokens = 0 } = JSON.parse(readFileSync(casesPath, 'utf8'));
console.log(JSON.stringify(runCases(engine, readFileSync(modelPath), modelPath, cases, draftTokens)));
