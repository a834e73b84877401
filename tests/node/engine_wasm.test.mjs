// The whole engine in WebAssembly (web_demo/engine.wasm, built by
// web_demo/build_wasm.sh) and its wrapper web_demo/engine.js, without a model:
// the module imports nothing, its allocator (engine_c/wasm/runtime.c) keeps
// data intact and reuses freed memory, and errors come back as the engine's
// text. tests/test_wasm_engine.py compares suggestions with the native engine.
//
// Run: node --test tests/node/
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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

// deterministic random numbers (mulberry32)
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
