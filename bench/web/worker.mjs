// The WebAssembly half of bench/bench_web.py, in a dedicated module worker
// (where the demo runs the engine). Same measurements as bench/bench_engine.py:
//
//   {type: "setup", wasmUrl, preferred, modelUrl, decodeIds: [[position, ids], ...]}
//       loads the engine (preferred: the module engine.js prefers among
//       engine-relaxed.wasm and engine.wasm next to wasmUrl; else wasmUrl's) and the model; one session per position, which runs
//       its ids once (so later calls reuse the cache), and one for keystrokes
//   {type: "decode", position, repeats, batch} -> {tokens, seconds}
//       decode_rate: single-token passes at that KV position (the last token
//       alternates x/y), minus the same call again with everything cached;
//       timed in batches of `batch` calls, since performance.now() is coarse
//   {type: "keystrokes", text, repeats, maxChars} -> {times, suggestions}
//       keystroke_latency: one character typed at the end of text (never the
//       suggested one), then a suggestion with min_confidence 0; seconds each

import { loadEngine, loadPreferredEngine } from '../../web_demo/engine.js';

const X_Y = ['x'.charCodeAt(0), 'y'.charCodeAt(0)];
let model = null;
let keystrokeSession = null;
const decodeSessions = new Map(); // position -> {session, ids: Int32Array, step}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

// The smallest step performance.now() takes here, in milliseconds.
function timerResolution() {
  let smallest = Infinity;
  for (let i = 0; i < 50; i++) {
    const start = performance.now();
    let now = start;
    while (now === start) now = performance.now();
    smallest = Math.min(smallest, now - start);
  }
  return smallest;
}

function setup({ wasmUrl, preferred, modelBytes, decodeIds }) {
  return (async () => {
    const engine = preferred
      ? await loadPreferredEngine((name) => fetchBytes(new URL(name, wasmUrl).href))
      : await loadEngine(await fetchBytes(wasmUrl));
    model = engine.loadModel(modelBytes, 'seed');
    for (const [position, ids] of decodeIds) {
      const session = model.session();
      const tokens = Int32Array.from(ids);
      session.lastLogits(tokens);
      decodeSessions.set(position, { session, ids: tokens, step: 0 });
    }
    keystrokeSession = model.session();
    return {
      kernels: keystrokeSession.kernels,
      variant: engine.variant,
      fallbackReason: engine.fallbackReason,
      info: model.info,
      crossOriginIsolated: self.crossOriginIsolated,
      timerResolutionMs: timerResolution(),
      userAgent: navigator.userAgent,
    };
  })();
}

function decode({ position, repeats, batch }) {
  const entry = decodeSessions.get(position);
  const { session, ids } = entry;
  const last = ids.length - 1;
  let milliseconds = 0;
  for (let done = 0; done < repeats;) {
    const n = Math.min(batch, repeats - done);
    const before = session.forwardedTokens;
    const start = performance.now();
    for (let k = 0; k < n; k++) {
      ids[last] = X_Y[entry.step++ % 2];
      session.lastLogits(ids);
    }
    const middle = performance.now();
    for (let k = 0; k < n; k++) session.lastLogits(ids);
    const end = performance.now();
    const forwarded = session.forwardedTokens - before;
    if (forwarded !== n) throw new Error(`${n} decode steps ran ${forwarded} tokens`);
    milliseconds += (middle - start) - (end - middle);
    done += n;
  }
  return { tokens: repeats, seconds: milliseconds / 1000 };
}

function keystrokes({ text, repeats, maxChars }) {
  const options = { maxChars, minConfidence: 0 };
  let suggestion = keystrokeSession.complete(text, '', options);
  const times = [];
  const suggestions = [];
  for (let i = 0; i < repeats; i++) {
    text += suggestion.slice(0, 1) !== 'z' ? 'z' : 'q';
    const start = performance.now();
    suggestion = keystrokeSession.complete(text, '', options);
    times.push((performance.now() - start) / 1000);
    suggestions.push(suggestion);
  }
  return { times, suggestions };
}

onmessage = async ({ data }) => {
  try {
    let result;
    if (data.type === 'setup') {
      const modelBytes = await fetchBytes(data.modelUrl);
      result = await setup({ ...data, modelBytes });
    } else if (data.type === 'decode') {
      result = decode(data);
    } else if (data.type === 'keystrokes') {
      result = keystrokes(data);
    } else {
      throw new Error(`unknown message ${data.type}`);
    }
    postMessage({ id: data.id, result });
  } catch (error) {
    postMessage({ id: data.id, error: String(error?.stack ?? error) });
  }
};
