// onnxruntime-web's half of bench/bench_peers.py, in a dedicated module worker like
// worker.mjs (ttcc's engine): the model exported as one decoding step with its
// key/value cache as inputs and outputs (int8, quantize_dynamic), one thread, wasm.
//
//   {type: "setup", modelUrl, cacheShape: [layers, 1, kvHeads, 0, headDim]} -> {version}
//   {type: "decode", position, repeats} -> {tokens, seconds}
//       steps at that cache position (random cache: speed does not depend on it)
//   {type: "keystrokes", position, repeats, steps} -> {times}
//       `steps` chained greedy steps from a cache of `position` (seconds each run)

import * as ort from './node_modules/onnxruntime-web/dist/ort.wasm.min.mjs';

ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = new URL('./node_modules/onnxruntime-web/dist/', import.meta.url).href;

let session = null;
let cacheShape = null;

function cache(position) {
  const shape = [...cacheShape.slice(0, 3), position, cacheShape[4]];
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i);
  return new ort.Tensor('float32', data, shape);
}

function step(token, position, keys, values) {
  return session.run({
    token: new ort.Tensor('int64', BigInt64Array.from([BigInt(token)]), [1, 1]),
    position: new ort.Tensor('int64', BigInt64Array.from([BigInt(position)]), [1]),
    past_keys: keys,
    past_values: values,
  });
}

function argmax(data) {
  let best = 0;
  for (let i = 1; i < data.length; i++) if (data[i] > data[best]) best = i;
  return best;
}

async function decode({ position, repeats }) {
  const keys = cache(position);
  const values = cache(position);
  await step(65, position, keys, values);
  let seconds = 0;
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await step(65, position, keys, values);
    seconds += (performance.now() - start) / 1000;
  }
  return { tokens: repeats, seconds };
}

async function keystrokes({ position, repeats, steps }) {
  const startKeys = cache(position);
  const startValues = cache(position);
  const times = [];
  for (let r = 0; r < repeats; r++) {
    const start = performance.now();
    let keys = startKeys;
    let values = startValues;
    let token = 'z'.charCodeAt(0);
    for (let s = 0; s < steps; s++) {
      const out = await step(token, position + s, keys, values);
      ({ keys, values } = out);
      token = argmax(out.logits.data);
    }
    times.push((performance.now() - start) / 1000);
  }
  return { times };
}

onmessage = async ({ data }) => {
  try {
    let result;
    if (data.type === 'setup') {
      const response = await fetch(data.modelUrl);
      if (!response.ok) throw new Error(`${data.modelUrl}: HTTP ${response.status}`);
      const bytes = new Uint8Array(await response.arrayBuffer());
      session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
      cacheShape = data.cacheShape;
      result = { version: ort.env.versions?.web ?? 'unknown' };
    } else if (data.type === 'decode') {
      result = await decode(data);
    } else if (data.type === 'keystrokes') {
      result = await keystrokes(data);
    } else {
      throw new Error(`unknown message ${data.type}`);
    }
    postMessage({ id: data.id, result });
  } catch (error) {
    postMessage({ id: data.id, error: String(error?.stack ?? error) });
  }
};
