// Runs completion cases through the WebAssembly engine (web_demo/engine.wasm
// via web_demo/engine.js) and prints the results as JSON, for
// tests/test_wasm_engine.py to compare with the native engine.
//
//   node tests/node/engine_wasm_check.mjs MODEL CASES.json
//
// CASES.json: {"cases": [{"prefix", "suffix", "options": {"multiline",
// "max_chars", "min_confidence"}}, ...]} (options as in server/engine.py, each
// optional). All cases run in order in one session, as the native side does.
// Prints {"kernels", "info", "metadata", "results": [{"text", "forwarded"}],
// "memory": {"sessions": [...], "models": [...]}}: the results, then the
// module's memory size after each of 50 session create/complete/free rounds
// and 10 model load/free rounds. A model that does not load prints
// {"error": message} instead.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadEngine } from '../../web_demo/engine.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const [modelPath, casesPath] = process.argv.slice(2);
if (!modelPath || !casesPath) {
  console.error('usage: node tests/node/engine_wasm_check.mjs MODEL CASES.json');
  process.exit(2);
}

const engine = await loadEngine(readFileSync(path.join(ROOT, 'web_demo', 'engine.wasm')));
const modelBytes = readFileSync(modelPath);
const { cases } = JSON.parse(readFileSync(casesPath, 'utf8'));

function jsOptions(options = {}) {
  const names = { multiline: 'multiline', max_chars: 'maxChars', min_confidence: 'minConfidence' };
  return Object.fromEntries(Object.entries(options).map(([key, value]) => [names[key], value]));
}

let model;
try {
  model = engine.loadModel(modelBytes, modelPath);
} catch (error) {
  console.log(JSON.stringify({ error: error.message }));
  process.exit(0);
}

const session = model.session();
const results = cases.map(({ prefix, suffix = '', options }) => ({
  text: session.complete(prefix, suffix, jsOptions(options)),
  forwarded: session.forwardedTokens,
}));
const kernels = session.kernels;
session.free();

const memory = { sessions: [], models: [] };
const probe = cases[0] ?? { prefix: 'x' };
for (let i = 0; i < 50; i++) {
  const s = model.session();
  s.complete(probe.prefix, probe.suffix ?? '', jsOptions(probe.options));
  s.free();
  memory.sessions.push(engine.memoryBytes);
}
const { info } = model;
const metadata = model.metadata;
model.free();
for (let i = 0; i < 10; i++) {
  const m = engine.loadModel(modelBytes, modelPath);
  m.session().free();
  m.free();
  memory.models.push(engine.memoryBytes);
}

console.log(JSON.stringify({ kernels, info, metadata, results, memory }));
