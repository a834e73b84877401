// The whole engine in WebAssembly (web_demo/engine.wasm, built by
// web_demo/build_wasm.sh) and its wrapper web_demo/engine.js, without a model:
// the module imports nothing, its allocator (engine_c/wasm/runtime.c) keeps
// data intact and reuses freed memory, and errors come back as the engine's
// text. tests/web/test_wasm_engine.py compares suggestions with the native engine.
//
// Run: node --test tests/node/
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { rng } from './random.mjs';

import { loadEngine } from '../../web_demo/engine.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MODULE = path.join(ROOT, 'web_demo', 'engine.wasm');
const PAGE = 65536;

let engine, wasm;

before(async () => {
  if (!existsSync(MODULE)) {
    execFileSync('bash', [path.join(ROOT, 'web_demo', 'build_wasm.sh')], { stdio: 'inherit' });
  }
  engine = await loadEngine(readFileSync(MODULE));
  wasm = engine.exports;
});

const bytes = () => new Uint8Array(wasm.memory.buffer);

function cString(pointer) {
  const memory = bytes();
  return new TextDecoder().decode(memory.subarray(pointer, memory.indexOf(0, pointer)));
}

test('the module imports nothing and exports the engine API', () => {
  const module = new WebAssembly.Module(readFileSync(MODULE));
  assert.deepEqual(WebAssembly.Module.imports(module), []);
  const names = WebAssembly.Module.exports(module).map((e) => e.name);
  for (const name of ['memory', 'buffer_alloc', 'buffer_free', 'model_load', 'model_free',
    'session_create', 'session_complete', 'session_free', 'strerror']) {
    assert.ok(names.includes(name), `exports ${name}`);
  }
  // No debug information or names that would carry paths.
  assert.deepEqual(WebAssembly.Module.customSections(module, 'name'), []);
});

test('strerror gives the engine text for every status', () => {
  const messages = [];
  for (let status = 0; status < 12; status++) messages.push(engine.message(status));
  assert.equal(messages[0], 'ok');
  assert.equal(messages[2], 'out of memory');
  assert.match(messages[4], /not a ttc model file/);
  assert.equal(new Set(messages).size, messages.length, 'every status has its own text');
  assert.equal(cString(wasm.strerror(-1)), 'unknown status');
  assert.equal(cString(wasm.strerror(12)), 'unknown status');
});

test('a file that is not a model throws the engine message', () => {
  assert.throws(() => engine.loadModel(new Uint8Array(0)), {
    message: '<bytes>: model file is truncated',
  });
  const junk = new Uint8Array(4096).fill(7);
  assert.throws(() => engine.loadModel(junk, 'junk.ttc'), {
    message: 'junk.ttc: not a ttc model file (bad magic)',
  });
});

test('malloc returns distinct, 16-byte aligned blocks, also for 0 bytes', () => {
  const pointers = [0, 1, 15, 16, 17, 0, 100].map((n) => wasm.buffer_alloc(n));
  for (const p of pointers) {
    assert.notEqual(p, 0);
    assert.equal(p % 16, 0);
  }
  assert.equal(new Set(pointers).size, pointers.length);
  pointers.forEach((p) => wasm.buffer_free(p));
  wasm.buffer_free(0); // free(NULL) does nothing
});

test('an impossible allocation returns 0 and leaves the heap usable', () => {
  const before = engine.memoryBytes;
  for (const n of [0xffffffff, 0xfffffff0, 0xffff0000, 0xfff00000]) {
    assert.equal(wasm.buffer_alloc(n), 0, `malloc(${n})`);
  }
  const p = wasm.buffer_alloc(1000);
  assert.notEqual(p, 0);
  wasm.buffer_free(p);
  assert.ok(engine.memoryBytes - before <= 16 * PAGE);
});

test('allocator stress: random sizes keep their data, freed memory is reused', () => {
  const rand = rng(42);
  const live = new Map(); // pointer -> [size, fill byte]
  const memoryAtStart = engine.memoryBytes;
  let liveBytes = 0, peakBytes = 0;
  const check = (p) => {
    const [size, fill] = live.get(p);
    const block = bytes().subarray(p, p + size);
    for (let i = 0; i < size; i++) {
      if (block[i] !== ((fill + i) & 0xff)) {
        assert.fail(`block ${p} (${size} bytes) changed at byte ${i}`);
      }
    }
  };
  for (let round = 0; round < 6000; round++) {
    const size = rand() < 0.05 ? Math.floor(rand() * 3 * PAGE) : Math.floor(rand() * 600);
    if (live.size > 0 && (rand() < 0.5 || live.size > 300)) {
      const keys = [...live.keys()];
      const p = keys[Math.floor(rand() * keys.length)];
      check(p);
      wasm.buffer_free(p);
      liveBytes -= live.get(p)[0];
      live.delete(p);
      continue;
    }
    const p = wasm.buffer_alloc(size);
    assert.notEqual(p, 0);
    assert.equal(p % 16, 0);
    for (const [q, [qSize]] of live) {
      assert.ok(p + size <= q || q + qSize <= p || size === 0 || qSize === 0, 'blocks overlap');
    }
    const fill = Math.floor(rand() * 256);
    const block = bytes().subarray(p, p + size);
    for (let i = 0; i < size; i++) block[i] = (fill + i) & 0xff;
    live.set(p, [size, fill]);
    liveBytes += size;
    peakBytes = Math.max(peakBytes, liveBytes);
  }
  for (const p of live.keys()) check(p);
  // Fragmentation stays bounded: the heap grew by less than twice the most
  // bytes ever live at once (headers and rounding included).
  const grown = engine.memoryBytes - memoryAtStart;
  assert.ok(grown < 2 * peakBytes, `memory grew by ${grown} bytes for ${peakBytes} live at most`);
  for (const p of live.keys()) wasm.buffer_free(p);

  // Everything freed merges back: one block as large as all the memory above
  // the first allocation fits without growing.
  const memory = engine.memoryBytes;
  const first = wasm.buffer_alloc(16);
  wasm.buffer_free(first);
  const big = wasm.buffer_alloc(memory - first - 64);
  assert.notEqual(big, 0);
  assert.equal(engine.memoryBytes, memory);
  wasm.buffer_free(big);
});

test('allocating and freeing the same large buffers does not grow memory', () => {
  const sizes = [5 << 20, 123457, 64, 3 << 20, 999, 1 << 20];
  const round = () => {
    const pointers = sizes.map((n) => wasm.buffer_alloc(n));
    assert.ok(pointers.every((p) => p !== 0));
    pointers.reverse().forEach((p) => wasm.buffer_free(p));
  };
  round();
  const memory = engine.memoryBytes;
  assert.equal(memory % PAGE, 0);
  for (let i = 0; i < 50; i++) round();
  assert.equal(engine.memoryBytes, memory);
});

// ---- the relaxed SIMD module (engine-relaxed.wasm) and the choice between them ----

const RELAXED = path.join(ROOT, 'web_demo', 'engine-relaxed.wasm');

test('both modules import nothing and name their variant; engine.wasm passes its self-check', async () => {
  for (const file of [MODULE, RELAXED]) {
    if (file === RELAXED && !WebAssembly.validate(readFileSync(file))) continue; // node 20
    const names = WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(file)))
      .map((e) => e.name);
    assert.ok(names.includes('engine_variant') && names.includes('kernels_self_check'));
  }
  assert.equal(engine.variant, 'simd128');
  assert.equal(engine.selfCheck(), true);
  assert.equal(engine.fallbackReason, null);
});

test('loadPreferredEngine: relaxed SIMD where it validates and passes its self-check, else engine.wasm saying why', async () => {
  const { loadPreferredEngine } = await import('../../web_demo/engine.js');
  const asked = [];
  const chosen = await loadPreferredEngine((name) => {
    asked.push(name);
    return readFileSync(path.join(ROOT, 'web_demo', name));
  });
  const relaxedRuns = WebAssembly.validate(readFileSync(RELAXED));
  if (chosen.variant === 'relaxed-simd') {
    assert.ok(relaxedRuns);
    assert.equal(chosen.selfCheck(), true);
    assert.equal(chosen.fallbackReason, null);
    assert.deepEqual(asked, ['engine-relaxed.wasm']);
  } else {
    // node 20 (V8 11.3): relaxed SIMD only behind a flag, and computed differently there
    assert.equal(chosen.variant, 'simd128');
    assert.match(chosen.fallbackReason,
      relaxedRuns ? /self-check failed/ : /relaxed SIMD is not supported here/);
    assert.deepEqual(asked, ['engine-relaxed.wasm', 'engine.wasm']);
  }
});

test('loadPreferredEngine falls back when the relaxed module does not load', async () => {
  const { loadPreferredEngine } = await import('../../web_demo/engine.js');
  const missing = await loadPreferredEngine(async (name) => {
    if (name === 'engine-relaxed.wasm') throw new Error('HTTP 404 Not Found');
    return readFileSync(path.join(ROOT, 'web_demo', name));
  });
  assert.equal(missing.variant, 'simd128');
  assert.equal(missing.fallbackReason, 'engine-relaxed.wasm did not load: HTTP 404 Not Found');
  assert.equal(missing.selfCheck(), true);
});

// node 20's V8 (11.3) runs relaxed SIMD behind this flag, with a relaxed dot
// product that does not give the exact sums the kernels need: there the
// self-check must fail and engine.wasm be used. Engines with the standard
// instruction must pass it.
test('with relaxed SIMD enabled in node, the self-check decides the module', (t) => {
  const script = `
    import { readFileSync } from 'node:fs';
    import { loadEngine, loadPreferredEngine } from ${JSON.stringify(path.join(ROOT, 'web_demo', 'engine.js'))};
    const dir = ${JSON.stringify(path.join(ROOT, 'web_demo'))};
    const relaxed = await loadEngine(readFileSync(dir + '/engine-relaxed.wasm'));
    const chosen = await loadPreferredEngine((name) => readFileSync(dir + '/' + name));
    console.log(JSON.stringify({ relaxedVariant: relaxed.variant, check: relaxed.selfCheck(),
      variant: chosen.variant, reason: chosen.fallbackReason }));`;
  let out;
  try {
    out = execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--input-type=module',
      '-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    t.skip(`this node has no --experimental-wasm-relaxed-simd: ${String(error.stderr).split('\n')[0]}`);
    return;
  }
  const got = JSON.parse(out);
  assert.equal(got.relaxedVariant, 'relaxed-simd');
  if (got.check) {
    assert.deepEqual([got.variant, got.reason], ['relaxed-simd', null]);
  } else {
    assert.deepEqual([got.variant, got.reason],
      ['simd128', 'relaxed SIMD failed the kernel self-check here']);
  }
  t.diagnostic(`relaxed self-check in node ${process.version}: ${got.check ? 'passed' : 'failed'}`);
});

test('retypedLength is the engine rule (same cases as tests/engine/test_engine.py)', () => {
  const cases = [
    ['x)', ')', 1], ['a) {', ') {', 3], ['a', ')', 0], ['a, b)', ') + 1', 1], ['', ')', 0],
    ['f(x)', ')\nnext)', 1], ['f(x)', '\r\n)', 0], ['x)', 'é)', 0],
  ];
  for (const [suggestion, suffix, expected] of cases) {
    assert.equal(engine.retypedLength(suggestion, suffix), expected, `${suggestion} | ${suffix}`);
  }
});
