// The checks of the WebAssembly kernel test module (engine_c/tests/
// wasm_kernels_main.c): its SIMD kernels must give exactly the generic
// (scalar) kernels' results, compiled into the same wasm module: float outputs
// are compared bit for bit on random shapes, and the generic matmul_q8,
// attention_values_q8, softmax and quantize_q8 are checked against JavaScript
// transcriptions of their definitions (kernels.h).
//
// Shared by node (wasm_kernels.test.mjs: the SIMD128 module,
// build/wasm_kernels_test.wasm) and Chromium (tests/web/test_wasm_relaxed_kernels.py:
// the SIMD128 + relaxed SIMD module, build/wasm_kernels_test_relaxed.wasm, which
// node 20 runs wrongly), so it imports nothing that a page cannot: no node:
// modules, and a small assert of its own.
//
// kernelChecks maps each check's name to a function of the module's exports
// that throws an AssertionError (or a trap's RuntimeError) when it fails. The
// checks run in order on one instance; each takes its own seeded random
// numbers, so it does not depend on the others.
//
// The relaxed matmul_q8 and attention_scores_q8 kernels need the activation
// operand (x, q) in [-127, 127] (kernels.h), as the engine's quantised
// activations are: the int8 inputs below are drawn in [-127, 127] (-128 only
// where it must not matter: the values of the missing keys of a last group).
import { rng } from './random.mjs';

const GENERIC = 0;
const SIMD = 1;
const GUARD = 16; // extra output elements that must stay untouched
const MARKER = 0x7fc0dead; // a NaN the kernels never produce

// ---- assertions (node:assert/strict's, as far as these checks use them) ----

export class AssertionError extends Error {
  constructor(message) {
    super(message);
    this.name = 'AssertionError';
  }
}

const show = (v) => (Object.is(v, -0) ? '-0' : String(v));
const prefix = (message) => (message === undefined ? '' : `${message}: `);

const assert = {
  fail(message) {
    throw new AssertionError(message);
  },
  ok(value, message = 'expected a true value') {
    if (!value) assert.fail(message);
  },
  // Object.is, as node:assert/strict's equal
  equal(actual, expected, message) {
    if (!Object.is(actual, expected)) {
      assert.fail(`${prefix(message)}got ${show(actual)}, want ${show(expected)}`);
    }
  },
  notEqual(actual, expected, message) {
    if (Object.is(actual, expected)) assert.fail(`${prefix(message)}got ${show(actual)}`);
  },
  // typed arrays of one kind, element by element (node:assert/strict's deepEqual)
  sameArray(actual, expected, message) {
    if (actual.constructor !== expected.constructor) {
      assert.fail(`${prefix(message)}a ${actual.constructor.name}, ` +
        `want a ${expected.constructor.name}`);
    }
    assert.equal(actual.length, expected.length, `${prefix(message)}length`);
    for (let i = 0; i < expected.length; i++) {
      assert.equal(actual[i], expected[i], `${prefix(message)}element ${i}`);
    }
  },
};

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

// ---- wasm memory (`wasm`: the module's exports) ----
// Views are made at each use: growing the memory detaches old ones.

function put(wasm, typed) {
  const p = wasm.heap_alloc(typed.byteLength);
  assert.notEqual(p, 0, 'wasm heap exhausted');
  new Uint8Array(wasm.memory.buffer, p, typed.byteLength).set(
    new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength),
  );
  return p;
}

// Copies typed to the very end of the memory, so that a read past it traps.
// Call after every other allocation of the case.
function putAtEnd(wasm, typed) {
  // Allocating first makes room; the copy then ends where the memory does.
  assert.notEqual(wasm.heap_alloc(typed.byteLength), 0, 'wasm heap exhausted');
  const p = wasm.memory.buffer.byteLength - typed.byteLength;
  new Uint8Array(wasm.memory.buffer, p, typed.byteLength).set(
    new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength),
  );
  return p;
}

function newOutput(wasm, n) {
  return put(wasm, new Uint32Array(n + GUARD).fill(MARKER));
}

const outputBits = (wasm, p, n) => new Uint32Array(wasm.memory.buffer, p, n + GUARD).slice();

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

function matmulCase(wasm, rand, nTokens, rows, cols, groupSize, atEnd = false) {
  wasm.heap_reset();
  const groups = cols / groupSize;
  const style = rand() < 0.7 ? 0 : int(rand, 1, 2);
  const x = randInt8(rand, nTokens * cols, style);
  const w = randInt8(rand, rows * cols, style);
  const xs = randFloats(rand, nTokens * groups, -12, 0, true);
  const ws = randFloats(rand, rows * groups, -16, -4, true);
  const n = nTokens * rows;
  const outs = [newOutput(wasm, n), newOutput(wasm, n)];
  const xp = put(wasm, x), xsp = put(wasm, xs), wsp = put(wasm, ws);
  const wp = atEnd ? putAtEnd(wasm, w) : put(wasm, w);
  const what = `matmul_q8 n_tokens=${nTokens} rows=${rows} cols=${cols} group_size=${groupSize}`;
  for (const set of [GENERIC, SIMD]) {
    const status = wasm.matmul_q8(set, outs[set], xp, xsp, nTokens, wp, wsp, rows, cols, groupSize);
    assert.equal(status, 0, `${what}: status of set ${set}`);
  }
  assertSame(outputBits(wasm, outs[GENERIC], n), outputBits(wasm, outs[SIMD], n), what);
  return { x, xs, w, ws, out: new Float32Array(outputBits(wasm, outs[GENERIC], n).buffer, 0, n) };
}

function stride(rand, headDim) {
  return rand() < 0.25 ? headDim : headDim + int(rand, 1, 40);
}

function scoresCase(wasm, rand, nKeys, headDim, atEnd = false) {
  wasm.heap_reset();
  const keyStride = stride(rand, headDim);
  const style = rand() < 0.7 ? 0 : int(rand, 1, 2);
  const q = randInt8(rand, headDim, style);
  const keys = randInt8(rand, (nKeys - 1) * keyStride + headDim, style);
  const keyScales = randFloats(rand, nKeys, -12, 0, true);
  const qScale = randFloat(rand, -10, -2, true);
  const outs = [newOutput(wasm, nKeys), newOutput(wasm, nKeys)];
  const qp = put(wasm, q), ksp = put(wasm, keyScales);
  const kp = atEnd ? putAtEnd(wasm, keys) : put(wasm, keys);
  const what = `attention_scores_q8 n_keys=${nKeys} head_dim=${headDim} key_stride=${keyStride}`;
  for (const set of [GENERIC, SIMD]) {
    const status = wasm.attention_scores_q8(set, outs[set], qp, qScale, kp, ksp, nKeys, headDim,
      keyStride);
    assert.equal(status, 0, `${what}: status of set ${set}`);
  }
  assertSame(outputBits(wasm, outs[GENERIC], nKeys), outputBits(wasm, outs[SIMD], nKeys), what);
}

// attention_values_q8's inputs (kernels.h): the values of nValues keys in
// groups of 4 (byte 4i + t % 4 of group t / 4 is value i of key t), with the
// missing keys of a last group that is not whole set to anything but 0 (which
// must not matter), and weights and value scales in one of several styles:
// softmax-like with positive scales (the engine's case), larger, all equal
// (every quantised weight 16383, the largest sums), products below the floor
// of w_max (2^-100), or softmax-like with many zeros.
const VALUES_STYLES = 5;

function valuesInput(rand, nValues, headDim, style) {
  const groups = Math.ceil(nValues / 4);
  const values = randInt8(rand, groups * 4 * headDim, rand() < 0.7 ? 0 : int(rand, 1, 2));
  for (let t = nValues; t < groups * 4; t++) {
    for (let i = 0; i < headDim; i++) {
      values[valueOffset(t, i, headDim)] = rand() < 0.5 ? -128 : int(rand, 1, 127);
    }
  }
  let weights, valueScales;
  if (style === 1) {
    weights = randFloats(rand, nValues, -14, 3, false);
    valueScales = randFloats(rand, nValues, -12, 0, false);
  } else if (style === 2) {
    weights = new Float32Array(nValues).fill(randFloat(rand, -14, 0, false));
    valueScales = new Float32Array(nValues).fill(randFloat(rand, -12, 0, false));
  } else if (style === 3) {
    weights = randFloats(rand, nValues, -60, -45, false);
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

// Where value i of key t lies (kernels.h's ttc_value_offset).
function valueOffset(t, i, headDim) {
  return (t - (t % 4)) * headDim + 4 * i + (t % 4);
}

// `atEnd` names the input placed last in memory: 'values', 'weights' or 'scales'.
function valuesCase(wasm, rand, nValues, headDim, atEnd = null) {
  wasm.heap_reset();
  const style = int(rand, 0, VALUES_STYLES - 1);
  const { values, weights, valueScales } = valuesInput(rand, nValues, headDim, style);
  const outs = [newOutput(wasm, headDim), newOutput(wasm, headDim)];
  const placed = { values, weights, scales: valueScales };
  const p = {};
  for (const name of Object.keys(placed)) if (name !== atEnd) p[name] = put(wasm, placed[name]);
  if (atEnd) p[atEnd] = putAtEnd(wasm, placed[atEnd]);
  const what = `attention_values_q8 n_values=${nValues} head_dim=${headDim} style=${style}`;
  for (const set of [GENERIC, SIMD]) {
    const status = wasm.attention_values_q8(set, outs[set], p.weights, p.values, p.scales, nValues,
      headDim);
    assert.equal(status, 0, `${what}: status of set ${set}`);
  }
  assertSame(outputBits(wasm, outs[GENERIC], headDim), outputBits(wasm, outs[SIMD], headDim),
    what);
  const out = new Float32Array(outputBits(wasm, outs[GENERIC], headDim).buffer, 0, headDim);
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
function softmaxCase(wasm, rand, n, style, atEnd = false) {
  const input = softmaxInput(rand, n, style);
  const what = `softmax n=${n} style=${style}`;
  const results = [];
  for (const set of [GENERIC, SIMD]) {
    wasm.heap_reset();
    let p;
    if (atEnd) {
      p = putAtEnd(wasm, input);
    } else {
      const buffer = new Float32Array(n + GUARD);
      buffer.set(input);
      new Uint32Array(buffer.buffer).fill(MARKER, n);
      p = put(wasm, buffer);
    }
    assert.equal(wasm.softmax(set, p, n), 0, `${what}: status of set ${set}`);
    const got = new Uint32Array(n + GUARD).fill(MARKER);
    got.set(new Uint32Array(wasm.memory.buffer, p, atEnd ? n : n + GUARD));
    results.push(got);
  }
  assertSame(results[GENERIC], results[SIMD], what);
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
function quantizeCase(wasm, rand, n, groupSize, atEnd = false) {
  wasm.heap_reset();
  const x = quantizeInput(rand, n, groupSize);
  const groups = n / groupSize;
  // -128 (0x80), which quantize_q8 never produces, marks q's guard bytes
  const qs = [GENERIC, SIMD].map(() => put(wasm, new Uint8Array(n + GUARD).fill(0x80)));
  const scales = [newOutput(wasm, groups), newOutput(wasm, groups)];
  const xp = atEnd ? putAtEnd(wasm, x) : put(wasm, x);
  const what = `quantize_q8 n=${n} group_size=${groupSize}`;
  for (const set of [GENERIC, SIMD]) {
    assert.equal(wasm.quantize_q8(set, qs[set], scales[set], xp, n, groupSize), 0,
      `${what}: status of set ${set}`);
  }
  const qBytes = (p) => new Int8Array(wasm.memory.buffer, p, n + GUARD).slice();
  const [wantQ, gotQ] = [qBytes(qs[GENERIC]), qBytes(qs[SIMD])];
  for (let i = 0; i < n + GUARD; i++) {
    assert.equal(gotQ[i], wantQ[i], `${what}: q[${i}]`);
    if (i >= n) assert.equal(wantQ[i], -128, `${what}: generic wrote past q`);
  }
  const wantScales = outputBits(wasm, scales[GENERIC], groups);
  assertSame(wantScales, outputBits(wasm, scales[SIMD], groups), `${what} scales`);
  return { x, q: wantQ.subarray(0, n), scales: new Float32Array(wantScales.buffer, 0, groups) };
}

// ---- the definitions, transcribed (every float32 operation rounds once) ----

const f = Math.fround;

// ttc_softmax_expf (ttc_math.h), step by step.
function ttcSoftmaxExpf(x) {
  if (!(x >= -87)) return 0;
  const magic = 12582912;
  const y = f(x * f(1.44269504));
  const n = f(f(y + magic) - magic); // round(y): the bits the engine moves into the exponent
  const fraction = f(y - n);
  let p = f(0.00133088243);
  for (const c of [0.00967151672, 0.0555058233, 0.240222424, 0.693147063, 1]) {
    p = f(f(p * fraction) + f(c));
  }
  return f(p * 2 ** n); // 2^n exactly, as its exponent bits
}

function softmaxByDefinition(x) {
  let max = x[0];
  for (let i = 1; i < x.length; i++) max = x[i] > max ? x[i] : max;
  const e = Array.from(x, (v) => ttcSoftmaxExpf(f(v - max)));
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
  for (let t = 0; t < nValues; t++) wMax = Math.max(wMax, f(weights[t] * valueScales[t]));
  const inverse = f(16383 / wMax);
  const unit = f(wMax / 16383);
  const magic = 12582912;
  const wq = [];
  for (let t = 0; t < nValues; t++) {
    wq.push(f(f(f(f(weights[t] * valueScales[t]) * inverse) + magic) - magic));
    assert.ok(wq[t] >= 0 && wq[t] <= 16383, `quantised weight ${t} is ${wq[t]}`);
  }
  const out = new Array(headDim).fill(0);
  for (let t0 = 0; t0 < nValues; t0 += 256) {
    for (let i = 0; i < headDim; i++) {
      let sum = 0; // exact: far below 2^53
      for (let t = t0; t < Math.min(t0 + 256, nValues); t++) {
        sum += wq[t] * values[valueOffset(t, i, headDim)];
      }
      assert.ok(Math.abs(sum) < 2 ** 31, `the sum of block ${t0} for output ${i} is ${sum}`);
      out[i] = f(out[i] + f(sum));
    }
  }
  return out.map((v) => f(v * unit));
}

// ---- the checks ----

const HEAD_DIMS = [1, 3, 16, 31, 32, 33, 48, 64, 80, 127];
const LENGTHS = [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 65, 100, 255, 300];

export const kernelChecks = {
  'the SIMD128 kernels are built and chosen as the best': (wasm) => {
    assert.equal(wasm.has_simd(), 1, 'has_simd()');
    const p = wasm.best_name();
    const bytes = new Uint8Array(wasm.memory.buffer, p, 16);
    const name = new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(0)));
    assert.equal(name, 'wasm', 'the best kernels');
  },

  'matmul_q8: SIMD128 equals generic bit for bit': (wasm) => {
    const rand = rng(1);
    for (const groupSize of [32, 64, 128]) {
      for (const groupCount of [1, 2, 3, 9, 17]) {
        for (const nTokens of [1, 2, 3, 4, 5, 7, 8, 9, 37, 64]) {
          for (const rows of [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 70]) {
            if (nTokens > 9 && rows % 2 === 0 && rows > 16) continue; // keep it quick
            matmulCase(wasm, rand, nTokens, rows, groupSize * groupCount, groupSize);
          }
        }
      }
    }
  },

  'attention kernels: SIMD128 equals generic bit for bit': (wasm) => {
    const rand = rng(2);
    for (const headDim of HEAD_DIMS) {
      for (const n of LENGTHS) {
        scoresCase(wasm, rand, n, headDim);
        valuesCase(wasm, rand, n, headDim);
      }
    }
    for (let i = 0; i < 200; i++) {
      scoresCase(wasm, rand, int(rand, 1, 300), int(rand, 1, 160));
      valuesCase(wasm, rand, int(rand, 1, 1100), int(rand, 1, 160));
    }
    // values: lengths around the blocks of 256 keys
    for (const headDim of [1, 3, 4, 5, 8, 16, 31, 32, 33, 48, 64, 65]) {
      for (const n of [255, 256, 257, 511, 512, 513, 1500, 2047]) {
        valuesCase(wasm, rand, n, headDim);
      }
    }
  },

  'softmax: SIMD128 equals generic bit for bit': (wasm) => {
    const rand = rng(5);
    for (let n = 1; n <= 300; n++) {
      for (let style = 0; style < SOFTMAX_STYLES; style++) softmaxCase(wasm, rand, n, style);
    }
    for (const n of [511, 512, 513, 1000, 1500, 1501, 2048, 4096, 5003]) {
      for (let style = 0; style < SOFTMAX_STYLES; style++) softmaxCase(wasm, rand, n, style);
    }
  },

  'quantize_q8: SIMD128 equals generic bit for bit': (wasm) => {
    const rand = rng(8);
    for (const groupSize of [32, 64, 128, 256]) {
      for (let groups = 1; groups <= 12; groups++) {
        quantizeCase(wasm, rand, groupSize * groups, groupSize);
      }
    }
    for (let n = 1; n <= 300; n++) quantizeCase(wasm, rand, n, n); // attention heads
    for (let i = 0; i < 500; i++) {
      const groupSize = int(rand, 1, 300);
      quantizeCase(wasm, rand, groupSize * int(rand, 1, 10), groupSize);
    }
  },

  'no kernel reads past the end of its inputs': (wasm) => {
    // With the input last in memory, any read beyond it traps.
    const rand = rng(3);
    for (const rows of [1, 7, 8, 9]) matmulCase(wasm, rand, 3, rows, 96, 32, true);
    for (const headDim of HEAD_DIMS) {
      for (const n of [1, 7, 8, 9]) {
        scoresCase(wasm, rand, n, headDim, true);
        for (const atEnd of ['values', 'weights', 'scales']) {
          valuesCase(wasm, rand, n, headDim, atEnd);
        }
      }
    }
    for (let n = 1; n <= 17; n++) softmaxCase(wasm, rand, n, n % SOFTMAX_STYLES, true);
    for (let n = 1; n <= 40; n++) {
      quantizeCase(wasm, rand, n, n, true);
      quantizeCase(wasm, rand, 3 * n, n, true);
    }
  },

  'generic quantize_q8 matches its definition, transcribed to JavaScript': (wasm) => {
    const rand = rng(9);
    for (const [n, groupSize] of [[1, 1], [7, 7], [48, 48], [64, 64], [99, 33], [288, 32],
      [768, 32], [1024, 256]]) {
      for (let repeat = 0; repeat < 20; repeat++) {
        const { x, q, scales } = quantizeCase(wasm, rand, n, groupSize);
        const want = quantizeByDefinition(x, groupSize);
        for (let g = 0; g < scales.length; g++) {
          assert.ok(Object.is(scales[g], want.scales[g]),
            `quantize_q8 n=${n} group_size=${groupSize}: scales[${g}] = ${scales[g]}, ` +
              `want ${want.scales[g]}`);
        }
        assert.sameArray(q, want.q, `quantize_q8 n=${n} group_size=${groupSize}: q`);
      }
    }
  },

  'generic softmax matches its definition, transcribed to JavaScript': (wasm) => {
    const rand = rng(6);
    const lengths = Array.from({ length: 40 }, (_, i) => i + 1)
      .concat([100, 300, 1000, 1500, 4096]);
    for (const n of lengths) {
      for (let style = 0; style < SOFTMAX_STYLES; style++) {
        const { input, out } = softmaxCase(wasm, rand, n, style);
        const want = softmaxByDefinition(input);
        for (let i = 0; i < n; i++) {
          assert.ok(Object.is(out[i], want[i]),
            `softmax n=${n} style=${style}: x[${i}] = ${out[i]}, want ${want[i]}`);
        }
      }
    }
  },

  'generic attention_values_q8 matches its definition, transcribed to JavaScript': (wasm) => {
    const rand = rng(7);
    for (const headDim of [1, 8, 48, 65, 130]) {
      for (const n of [1, 2, 3, 4, 5, 6, 7, 9, 255, 256, 257, 300, 600]) {
        const { weights, values, valueScales, out } = valuesCase(wasm, rand, n, headDim);
        const want = valuesByDefinition(weights, values, valueScales, n, headDim);
        for (let i = 0; i < headDim; i++) {
          assert.ok(Object.is(out[i], want[i]),
            `attention_values_q8 n_values=${n} head_dim=${headDim}: out[${i}] = ${out[i]}, ` +
              `want ${want[i]}`);
        }
      }
    }
  },

  'generic matmul_q8 matches its definition, transcribed to JavaScript': (wasm) => {
    const nTokens = 3, rows = 11, cols = 96, groupSize = 32, groups = cols / groupSize;
    const { x, xs, w, ws, out } = matmulCase(wasm, rng(4), nTokens, rows, cols, groupSize);
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
        assert.ok(Object.is(got, acc), `matmul_q8: out[${t}][${r}] = ${got}, want ${acc}`);
      }
    }
  },
};
