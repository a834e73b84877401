// The WebAssembly SIMD128 kernels must give exactly the generic (scalar)
// kernels' results, compiled into the same wasm module: float outputs are
// compared bit for bit on random shapes, and the generic matmul_q8,
// attention_values_q8, softmax and quantize_q8 are checked against JavaScript
// transcriptions of their definitions (kernels.h).
//
// Run: node --test tests/node/
// The test builds its module first with `make -C engine_c wasm-kernels-test`,
// which runs (from engine_c/):
//   clang --target=wasm32 -msimd128 -std=c11 -O2 -Wall -Wextra -Werror \
//     -nostdlib -ffreestanding -ffp-contract=off -I. \
//     -Wl,--no-entry -Wl,--export-dynamic -o build/wasm_kernels_test.wasm \
//     tests/wasm_kernels_main.c kernels_generic.c kernels_wasm.c kernels_select.c
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { rng } from './random.mjs';

const ENGINE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'engine_c');
const MODULE = path.join(ENGINE, 'build', 'wasm_kernels_test.wasm');

const GENERIC = 0;
const SIMD = 1;
const GUARD = 16; // extra output elements that must stay untouched
const MARKER = 0x7fc0dead; // a NaN the kernels never produce

let wasm; // the module's exports

before(async () => {
  execFileSync('make', ['-s', '-C', ENGINE, 'wasm-kernels-test'], { stdio: 'inherit' });
  const { instance } = await WebAssembly.instantiate(readFileSync(MODULE), {});
  wasm = instance.exports;
});

const int = (rand, lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

// A float32 with random mantissa and exponent in [2^minExp, 2^(maxExp+1)),
// built from its bits so that rounding differences show in every bit.
const bits = new Uint32Array(1);
const asFloat = new Float32Array(bits.buffer);
function randFloat(rand, minExp, maxExp, signed) {
  const sign = signed && rand() < 0.5 ? 0x80000000 : 0;
  const exponent = int(rand, minExp, maxExp) + 127;
  bits[0] = (sign | (exponent << 23) | int(rand, 0, 0x7fffff)) >>> 0;
  return asFloat[0];
}

// int8 data in [-127, 127]: uniform, only the extremes, or mostly zeros.
function randInt8(rand, n, style) {
  const a = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    if (style === 1) a[i] = rand() < 0.5 ? 127 : -127;
    else if (style === 2) a[i] = rand() < 0.25 ? int(rand, -127, 127) : 0;
    else a[i] = int(rand, -127, 127);
  }
  return a;
}

function randFloats(rand, n, minExp, maxExp, signed) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = randFloat(rand, minExp, maxExp, signed);
  return a;
}

// ---- wasm memory ----
// Views are made at each use: growing the memory detaches old ones.

function put(typed) {
  const p = wasm.heap_alloc(typed.byteLength);
  assert.notEqual(p, 0, 'wasm heap exhausted');
  new Uint8Array(wasm.memory.buffer, p, typed.byteLength).set(
    new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength),
  );
  return p;
}

// Copies typed to the very end of the memory, so that a read past it traps.
// Call after every other allocation of the case.
function putAtEnd(typed) {
  // Allocating first makes room; the copy then ends where the memory does.
  assert.notEqual(wasm.heap_alloc(typed.byteLength), 0, 'wasm heap exhausted');
  const p = wasm.memory.buffer.byteLength - typed.byteLength;
  new Uint8Array(wasm.memory.buffer, p, typed.byteLength).set(
    new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength),
  );
  return p;
}

function newOutput(n) {
  return put(new Uint32Array(n + GUARD).fill(MARKER));
}

const outputBits = (p, n) => new Uint32Array(wasm.memory.buffer, p, n + GUARD).slice();

// Compares the bits of the generic and SIMD outputs, guards included.
function assertSame(want, got, what) {
  for (let i = 0; i < want.length; i++) {
    if (want[i] !== got[i]) {
      const f = (b) => new Float32Array(new Uint32Array([b]).buffer)[0];
      assert.fail(
        `${what}: element ${i} is ${f(got[i])} (0x${got[i].toString(16)}), ` +
          `generic ${f(want[i])} (0x${want[i].toString(16)})`,
      );
    }
  }
  for (let i = want.length - GUARD; i < want.length; i++) {
    assert.equal(want[i], MARKER, `${what}: generic wrote past the output`);
  }
}

// ---- one case per kernel; `atEnd` places the int8 input last in memory ----

function matmulCase(rand, nTokens, rows, cols, groupSize, atEnd = false) {
  wasm.heap_reset();
  const groups = cols / groupSize;
  const style = rand() < 0.7 ? 0 : int(rand, 1, 2);
  const x = randInt8(rand, nTokens * cols, style);
  const w = randInt8(rand, rows * cols, style);
  const xs = randFloats(rand, nTokens * groups, -12, 0, true);
  const ws = randFloats(rand, rows * groups, -16, -4, true);
  const n = nTokens * rows;
  const outs = [newOutput(n), newOutput(n)];
  const xp = put(x), xsp = put(xs), wsp = put(ws);
  const wp = atEnd ? putAtEnd(w) : put(w);
  for (const set of [GENERIC, SIMD]) {
    const status = wasm.matmul_q8(set, outs[set], xp, xsp, nTokens, wp, wsp, rows, cols, groupSize);
    assert.equal(status, 0);
  }
  const what = `matmul_q8 n_tokens=${nTokens} rows=${rows} cols=${cols} group_size=${groupSize}`;
  assertSame(outputBits(outs[GENERIC], n), outputBits(outs[SIMD], n), what);
  return { x, xs, w, ws, out: new Float32Array(outputBits(outs[GENERIC], n).buffer, 0, n) };
}

function stride(rand, headDim) {
  return rand() < 0.25 ? headDim : headDim + int(rand, 1, 40);
}

function scoresCase(rand, nKeys, headDim, atEnd = false) {
  wasm.heap_reset();
  const keyStride = stride(rand, headDim);
  const style = rand() < 0.7 ? 0 : int(rand, 1, 2);
  const q = randInt8(rand, headDim, style);
  const keys = randInt8(rand, (nKeys - 1) * keyStride + headDim, style);
  const keyScales = randFloats(rand, nKeys, -12, 0, true);
  const qScale = randFloat(rand, -10, -2, true);
  const outs = [newOutput(nKeys), newOutput(nKeys)];
  const qp = put(q), ksp = put(keyScales);
  const kp = atEnd ? putAtEnd(keys) : put(keys);
  for (const set of [GENERIC, SIMD]) {
    const status = wasm.attention_scores_q8(set, outs[set], qp, qScale, kp, ksp, nKeys, headDim,
      keyStride);
    assert.equal(status, 0);
  }
  const what = `attention_scores_q8 n_keys=${nKeys} head_dim=${headDim} key_stride=${keyStride}`;
  assertSame(outputBits(outs[GENERIC], nKeys), outputBits(outs[SIMD], nKeys), what);
}

// attention_values_q8's inputs (kernels.h): the values of nValues keys in
// pairs (byte 2i + t % 2 of pair t / 2 is value i of key t), with the missing
// last key of an odd nValues set to anything but 0 (which must not matter),
// and weights and value scales in one of several styles: softmax-like with
// positive scales (the engine's case), signed and larger, all equal (every
// quantised weight 32767, the largest sums), products below the floor of
// w_max (2^-100), or softmax-like with many zeros.
const VALUES_STYLES = 5;

function valuesInput(rand, nValues, headDim, style) {
  const pairs = Math.ceil(nValues / 2);
  const values = randInt8(rand, pairs * 2 * headDim, rand() < 0.7 ? 0 : int(rand, 1, 2));
  if (nValues % 2 === 1) {
    for (let i = 0; i < headDim; i++) {
      values[(pairs - 1) * 2 * headDim + 2 * i + 1] = rand() < 0.5 ? -128 : int(rand, 1, 127);
    }
  }
  let weights, valueScales;
  if (style === 1) {
    weights = randFloats(rand, nValues, -14, 3, true);
    valueScales = randFloats(rand, nValues, -12, 0, true);
  } else if (style === 2) {
    weights = new Float32Array(nValues).fill(randFloat(rand, -14, 0, false));
    valueScales = new Float32Array(nValues).fill(randFloat(rand, -12, 0, false));
  } else if (style === 3) {
    weights = randFloats(rand, nValues, -60, -45, true);
    valueScales = randFloats(rand, nValues, -60, -50, false);
  } else {
    weights = randFloats(rand, nValues, -14, -1, false);
    valueScales = randFloats(rand, nValues, -12, 0, false);
    if (style === 4) {
      for (let t = 0; t < nValues; t++) if (rand() < 1 / 3) weights[t] = rand() < 0.5 ? 0 : -0;
    }
  }
  return { values, weights, valueScales };
}

// `atEnd` names the input placed last in memory: 'values', 'weights' or 'scales'.
function valuesCase(rand, nValues, headDim, atEnd = null) {
  wasm.heap_reset();
  const style = int(rand, 0, VALUES_STYLES - 1);
  const { values, weights, valueScales } = valuesInput(rand, nValues, headDim, style);
  const outs = [newOutput(headDim), newOutput(headDim)];
  const placed = { values, weights, scales: valueScales };
  const p = {};
  for (const name of Object.keys(placed)) if (name !== atEnd) p[name] = put(placed[name]);
  if (atEnd) p[atEnd] = putAtEnd(placed[atEnd]);
  for (const set of [GENERIC, SIMD]) {
    const status = wasm.attention_values_q8(set, outs[set], p.weights, p.values, p.scales, nValues,
      headDim);
    assert.equal(status, 0);
  }
  const what = `attention_values_q8 n_values=${nValues} head_dim=${headDim} style=${style}`;
  assertSame(outputBits(outs[GENERIC], headDim), outputBits(outs[SIMD], headDim), what);
  const out = new Float32Array(outputBits(outs[GENERIC], headDim).buffer, 0, headDim);
  return { weights, values, valueScales, out };
}

// Softmax inputs in one of several styles: scattered over [-200, 50] (many
// x - max below -87, whose exponential is 0), scores-like in [-8, 8], all
// equal, zeros of both signs among values at the edge of the zero branch
// (max - 87 and its neighbours), or one large value among small ones.
const SOFTMAX_STYLES = 5;
const SOFTMAX_EDGES = [0, -0, -87, -87.000008, -86.999992, -86.5, -87.5, -1e-30, -1];

function softmaxInput(rand, n, style) {
  const x = new Float32Array(n);
  const equal = int(rand, -3000, 3000) / 16;
  for (let i = 0; i < n; i++) {
    if (style === 0) x[i] = -200 + 250 * rand();
    else if (style === 1) x[i] = -8 + 16 * rand();
    else if (style === 2) x[i] = equal;
    else if (style === 3) x[i] = SOFTMAX_EDGES[int(rand, 0, SOFTMAX_EDGES.length - 1)];
    else x[i] = rand() < 0.02 ? 40 : randFloat(rand, -20, 2, true);
  }
  return x;
}

// Runs softmax in place with each set; returns the output bits of the generic
// set. `atEnd` places the values last in memory (then no guard is checked).
function softmaxCase(rand, n, style, atEnd = false) {
  const input = softmaxInput(rand, n, style);
  const results = [];
  for (const set of [GENERIC, SIMD]) {
    wasm.heap_reset();
    let p;
    if (atEnd) {
      p = putAtEnd(input);
    } else {
      const buffer = new Float32Array(n + GUARD);
      buffer.set(input);
      new Uint32Array(buffer.buffer).fill(MARKER, n);
      p = put(buffer);
    }
    assert.equal(wasm.softmax(set, p, n), 0);
    const got = new Uint32Array(n + GUARD).fill(MARKER);
    got.set(new Uint32Array(wasm.memory.buffer, p, atEnd ? n : n + GUARD));
    results.push(got);
  }
  assertSame(results[GENERIC], results[SIMD], `softmax n=${n} style=${style}`);
  return { input, out: new Float32Array(results[GENERIC].buffer, 0, n) };
}

// quantize_q8's inputs, group by group in one of several styles (as in
// engine_c/tests/test_kernels.c): like activations, huge (up to FLT_MAX),
// tiny (subnormals among values down to 2^-121, the smallest largest |x|
// allowed), zeros, ties (max_abs 127 * 2^k, so that x * inverse lands on
// halves), or anything from subnormal to huge; zeros of both signs everywhere.
const FLT_MAX = 3.4028234663852886e38;
const SMALLEST_MAX = 2 ** -121;

function quantizeInput(rand, n, groupSize) {
  const x = new Float32Array(n);
  for (let g0 = 0; g0 < n; g0 += groupSize) {
    const style = int(rand, 0, 5);
    const tieUnit = 2 ** int(rand, -2, 0);
    let maxAbs = 0;
    for (let i = g0; i < g0 + groupSize; i++) {
      let v;
      if (style === 0) v = randFloat(rand, -12, 4, false);
      else if (style === 1) v = rand() < 1 / 16 ? FLT_MAX : randFloat(rand, 100, 127, false);
      else if (style === 2) v = randFloat(rand, -127, -115, false); // -127: subnormal
      else if (style === 3) v = 0;
      else if (style === 4) v = Math.abs(int(rand, -254, 254) * tieUnit);
      else v = randFloat(rand, -127, 127, false);
      if (rand() < 1 / 8) v = 0;
      x[i] = rand() < 0.5 ? -v : v;
      maxAbs = Math.max(maxAbs, v);
    }
    const pick = g0 + int(rand, 0, groupSize - 1);
    if (style === 4) x[pick] = 254 * tieUnit;
    else if (maxAbs > 0 && maxAbs < SMALLEST_MAX) {
      x[pick] = rand() < 0.5 ? SMALLEST_MAX : randFloat(rand, -121, -115, false);
    }
    if (style === 4 || style === 2) x[pick] = rand() < 0.5 ? -x[pick] : x[pick];
  }
  return x;
}

// Runs quantize_q8 with each set and compares q and the scales bit for bit,
// guards included; returns the generic set's output. `atEnd` places x last in
// memory.
function quantizeCase(rand, n, groupSize, atEnd = false) {
  wasm.heap_reset();
  const x = quantizeInput(rand, n, groupSize);
  const groups = n / groupSize;
  // -128 (0x80), which quantize_q8 never produces, marks q's guard bytes
  const qs = [GENERIC, SIMD].map(() => put(new Uint8Array(n + GUARD).fill(0x80)));
  const scales = [newOutput(groups), newOutput(groups)];
  const xp = atEnd ? putAtEnd(x) : put(x);
  for (const set of [GENERIC, SIMD]) {
    assert.equal(wasm.quantize_q8(set, qs[set], scales[set], xp, n, groupSize), 0);
  }
  const what = `quantize_q8 n=${n} group_size=${groupSize}`;
  const qBytes = (p) => new Int8Array(wasm.memory.buffer, p, n + GUARD).slice();
  const [wantQ, gotQ] = [qBytes(qs[GENERIC]), qBytes(qs[SIMD])];
  for (let i = 0; i < n + GUARD; i++) {
    assert.equal(gotQ[i], wantQ[i], `${what}: q[${i}]`);
    if (i >= n) assert.equal(wantQ[i], -128, `${what}: generic wrote past q`);
  }
  const wantScales = outputBits(scales[GENERIC], groups);
  assertSame(wantScales, outputBits(scales[SIMD], groups), `${what} scales`);
  return { x, q: wantQ.subarray(0, n), scales: new Float32Array(wantScales.buffer, 0, groups) };
}

// ---- the definitions, transcribed (every float32 operation rounds once) ----

const f = Math.fround;

// ttc_expf (ttc_math.h), step by step.
function ttcExpf(x) {
  if (x < -87) return 0;
  if (x > 88) x = 88;
  const magic = 12582912;
  const n = f(f(f(x * f(1.44269504)) + magic) - magic);
  let r = f(x - f(n * f(0.693359375)));
  r = f(r - f(n * f(-2.1219444e-4)));
  let p = f(0.00138888892);
  for (const c of [0.00833333377, 0.0416666679, 0.166666672, 0.5, 1, 1]) p = f(f(p * r) + f(c));
  return f(p * 2 ** n); // 2^n exactly, as its exponent bits
}

function softmaxByDefinition(x) {
  let max = x[0];
  for (let i = 1; i < x.length; i++) max = x[i] > max ? x[i] : max;
  const e = Array.from(x, (v) => ttcExpf(f(v - max)));
  const lane = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < e.length; i++) lane[i % 8] = f(lane[i % 8] + e[i]);
  const sum = f(f(f(lane[0] + lane[1]) + f(lane[2] + lane[3])) +
    f(f(lane[4] + lane[5]) + f(lane[6] + lane[7])));
  const inverse = f(1 / sum);
  return e.map((v) => f(v * inverse));
}

function quantizeByDefinition(x, groupSize) {
  const q = new Int8Array(x.length);
  const scales = new Float32Array(x.length / groupSize);
  const magic = 12582912;
  for (let g = 0; g < scales.length; g++) {
    let maxAbs = 0;
    for (let i = g * groupSize; i < (g + 1) * groupSize; i++) {
      const a = x[i] < 0 ? -x[i] : x[i];
      maxAbs = a > maxAbs ? a : maxAbs;
    }
    const inverse = maxAbs > 0 ? f(127 / maxAbs) : 0;
    scales[g] = f(maxAbs / 127);
    for (let i = g * groupSize; i < (g + 1) * groupSize; i++) {
      q[i] = f(f(f(x[i] * inverse) + magic) - magic);
    }
  }
  return { q, scales };
}

function valuesByDefinition(weights, values, valueScales, nValues, headDim) {
  let wMax = 2 ** -100;
  for (let t = 0; t < nValues; t++) wMax = Math.max(wMax, Math.abs(f(weights[t] * valueScales[t])));
  const inverse = f(32767 / wMax);
  const unit = f(wMax / 32767);
  const magic = 12582912;
  const wq = [];
  for (let t = 0; t < nValues; t++) {
    wq.push(f(f(f(f(weights[t] * valueScales[t]) * inverse) + magic) - magic));
    assert.ok(Math.abs(wq[t]) <= 32767);
  }
  const out = new Array(headDim).fill(0);
  for (let t0 = 0; t0 < nValues; t0 += 256) {
    for (let i = 0; i < headDim; i++) {
      let sum = 0; // exact: far below 2^53
      for (let t = t0; t < Math.min(t0 + 256, nValues); t++) {
        sum += wq[t] * values[(t - (t % 2)) * headDim + 2 * i + (t % 2)];
      }
      assert.ok(Math.abs(sum) < 2 ** 31);
      out[i] = f(out[i] + f(sum));
    }
  }
  return out.map((v) => f(v * unit));
}

// ---- the tests ----

const HEAD_DIMS = [1, 3, 16, 31, 32, 33, 48, 64, 80, 127];
const LENGTHS = [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 65, 100, 255, 300];

test('the SIMD128 kernels are built and chosen as the best', () => {
  assert.equal(wasm.has_simd(), 1);
  const p = wasm.best_name();
  const bytes = new Uint8Array(wasm.memory.buffer, p, 16);
  const name = new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(0)));
  assert.equal(name, 'wasm');
});

test('matmul_q8: SIMD128 equals generic bit for bit', () => {
  const rand = rng(1);
  for (const groupSize of [32, 64, 128]) {
    for (const groupCount of [1, 2, 3, 9, 17]) {
      for (const nTokens of [1, 2, 3, 4, 5, 7, 8, 9, 37, 64]) {
        for (const rows of [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 70]) {
          if (nTokens > 9 && rows % 2 === 0 && rows > 16) continue; // keep it quick
          matmulCase(rand, nTokens, rows, groupSize * groupCount, groupSize);
        }
      }
    }
  }
});

test('attention kernels: SIMD128 equals generic bit for bit', () => {
  const rand = rng(2);
  for (const headDim of HEAD_DIMS) {
    for (const n of LENGTHS) {
      scoresCase(rand, n, headDim);
      valuesCase(rand, n, headDim);
    }
  }
  for (let i = 0; i < 200; i++) {
    scoresCase(rand, int(rand, 1, 300), int(rand, 1, 160));
    valuesCase(rand, int(rand, 1, 1100), int(rand, 1, 160));
  }
  // values: lengths around the blocks of 256 keys
  for (const headDim of [1, 3, 4, 5, 8, 16, 31, 32, 33, 48, 64, 65]) {
    for (const n of [255, 256, 257, 511, 512, 513, 1500, 2047]) valuesCase(rand, n, headDim);
  }
});

test('softmax: SIMD128 equals generic bit for bit', () => {
  const rand = rng(5);
  for (let n = 1; n <= 300; n++) {
    for (let style = 0; style < SOFTMAX_STYLES; style++) softmaxCase(rand, n, style);
  }
  for (const n of [511, 512, 513, 1000, 1500, 1501, 2048, 4096, 5003]) {
    for (let style = 0; style < SOFTMAX_STYLES; style++) softmaxCase(rand, n, style);
  }
});

test('quantize_q8: SIMD128 equals generic bit for bit', () => {
  const rand = rng(8);
  for (const groupSize of [32, 64, 128, 256]) {
    for (let groups = 1; groups <= 12; groups++) quantizeCase(rand, groupSize * groups, groupSize);
  }
  for (let n = 1; n <= 300; n++) quantizeCase(rand, n, n); // attention heads
  for (let i = 0; i < 500; i++) {
    const groupSize = int(rand, 1, 300);
    quantizeCase(rand, groupSize * int(rand, 1, 10), groupSize);
  }
});

test('no kernel reads past the end of its inputs', () => {
  // With the input last in memory, any read beyond it traps.
  const rand = rng(3);
  for (const rows of [1, 7, 8, 9]) matmulCase(rand, 3, rows, 96, 32, true);
  for (const headDim of HEAD_DIMS) {
    for (const n of [1, 7, 8, 9]) {
      scoresCase(rand, n, headDim, true);
      for (const atEnd of ['values', 'weights', 'scales']) valuesCase(rand, n, headDim, atEnd);
    }
  }
  for (let n = 1; n <= 17; n++) softmaxCase(rand, n, n % SOFTMAX_STYLES, true);
  for (let n = 1; n <= 40; n++) {
    quantizeCase(rand, n, n, true);
    quantizeCase(rand, 3 * n, n, true);
  }
});

test('generic quantize_q8 matches its definition, transcribed to JavaScript', () => {
  const rand = rng(9);
  for (const [n, groupSize] of [[1, 1], [7, 7], [48, 48], [64, 64], [99, 33], [288, 32],
    [768, 32], [1024, 256]]) {
    for (let repeat = 0; repeat < 20; repeat++) {
      const { x, q, scales } = quantizeCase(rand, n, groupSize);
      const want = quantizeByDefinition(x, groupSize);
      for (let g = 0; g < scales.length; g++) {
        assert.ok(Object.is(scales[g], want.scales[g]),
          `quantize_q8 n=${n} group_size=${groupSize}: scales[${g}] = ${scales[g]}, ` +
            `want ${want.scales[g]}`);
      }
      assert.deepEqual(q, want.q, `quantize_q8 n=${n} group_size=${groupSize}: q`);
    }
  }
});

test('generic softmax matches its definition, transcribed to JavaScript', () => {
  const rand = rng(6);
  const lengths = Array.from({ length: 40 }, (_, i) => i + 1).concat([100, 300, 1000, 1500, 4096]);
  for (const n of lengths) {
    for (let style = 0; style < SOFTMAX_STYLES; style++) {
      const { input, out } = softmaxCase(rand, n, style);
      const want = softmaxByDefinition(input);
      for (let i = 0; i < n; i++) {
        assert.ok(Object.is(out[i], want[i]),
          `softmax n=${n} style=${style}: x[${i}] = ${out[i]}, want ${want[i]}`);
      }
    }
  }
});

test('generic attention_values_q8 matches its definition, transcribed to JavaScript', () => {
  const rand = rng(7);
  for (const headDim of [1, 8, 48, 65, 130]) {
    for (const n of [1, 2, 3, 4, 5, 6, 7, 9, 255, 256, 257, 300, 600]) {
      const { weights, values, valueScales, out } = valuesCase(rand, n, headDim);
      const want = valuesByDefinition(weights, values, valueScales, n, headDim);
      for (let i = 0; i < headDim; i++) {
        assert.ok(Object.is(out[i], want[i]),
          `attention_values_q8 n_values=${n} head_dim=${headDim}: out[${i}] = ${out[i]}, ` +
            `want ${want[i]}`);
      }
    }
  }
});

test('generic matmul_q8 matches its definition, transcribed to JavaScript', () => {
  const nTokens = 3, rows = 11, cols = 96, groupSize = 32, groups = cols / groupSize;
  const { x, xs, w, ws, out } = matmulCase(rng(4), nTokens, rows, cols, groupSize);
  const f = Math.fround; // every float32 operation rounds once
  for (let t = 0; t < nTokens; t++) {
    for (let r = 0; r < rows; r++) {
      let acc = 0;
      for (let g = 0; g < groups; g++) {
        let dot = 0;
        for (let i = g * groupSize; i < (g + 1) * groupSize; i++) {
          dot += x[t * cols + i] * w[r * cols + i];
        }
        acc = f(acc + f(f(dot) * f(ws[r * groups + g] * xs[t * groups + g])));
      }
      const got = out[t * rows + r];
      assert.ok(Object.is(got, acc), `out[${t}][${r}] = ${got}, want ${acc}`);
    }
  }
});
