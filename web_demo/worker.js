// The model runs here, off the page's thread, so typing never waits for it.
//
// Page -> worker:
//   {type: "load", loadId, url, name}               fetch and load a model (replaces the current one)
//   {type: "complete", id, prefix, suffix, options} suggest text for the cursor; options as
//                                                  engine.js's complete (documentMemory...)
// Worker -> page:
//   {type: "progress", loadId, loaded, total}       total is null without Content-Length
//   {type: "loaded", loadId, info, metadata, engine: {variant, fallbackReason}}
//                                                   variant: "relaxed-simd" or "simd128"
//   {type: "load-error", loadId, message}
//   {type: "suggestion", id, suggestion, retyped, ms, tokens}
//                                                   ms: time spent in session.complete;
//                                                   retyped: characters after the caret
//                                                   that accepting it replaces; tokens:
//                                                   how many the engine ran for it
//   {type: "complete-error", id, message}

import { loadPreferredEngine } from "./engine.js";

// engine-relaxed.wasm where this browser runs it exactly, else engine.wasm (engine.js).
const enginePromise = loadPreferredEngine(async (name) => {
  const response = await fetch(new URL(`./${name}`, import.meta.url));
  if (!response.ok) throw new Error(`${name}: HTTP ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
});
enginePromise.catch(() => {}); // reported with the first load

let engine = null;
let model = null;
let session = null;
let currentLoad = null; // {loadId, controller}
let pending = null;     // the latest "complete" request not yet run
let scheduled = false;
let answered = null;    // the last request answered: what idle time prepares for

function unload() {
  answered = null;
  session?.free();
  model?.free();
  session = null;
  model = null;
}

async function fetchWithProgress(url, loadId, signal) {
  const response = await fetch(url, { signal });
  if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`.trim());
  const length = Number(response.headers.get("Content-Length"));
  const total = Number.isFinite(length) && length > 0 ? length : null;
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    postMessage({ type: "progress", loadId, loaded: bytes.length, total: bytes.length });
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    postMessage({ type: "progress", loadId, loaded, total });
  }
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

async function load({ loadId, url, name }) {
  currentLoad?.controller.abort();
  const controller = new AbortController();
  currentLoad = { loadId, controller };
  unload();
  try {
    engine = await enginePromise;
    let bytes;
    try {
      bytes = await fetchWithProgress(url, loadId, controller.signal);
    } catch (error) {
      throw new Error(`${name}: ${error?.message || error}`);
    }
    if (currentLoad.loadId !== loadId) return; // a newer load took over
    model = engine.loadModel(bytes, name); // its errors start with the name too
    session = model.session();
    const about = { variant: engine.variant, fallbackReason: engine.fallbackReason };
    postMessage({
      type: "loaded", loadId, info: plain(model.info), metadata: plain(model.metadata), engine: about,
    });
  } catch (error) {
    if (currentLoad.loadId !== loadId) return;
    unload();
    postMessage({ type: "load-error", loadId, message: error?.message || String(error) });
  }
}

// Copies an object into plain data that postMessage can clone (no getters, no functions).
function plain(value) {
  try {
    return JSON.parse(JSON.stringify(value ?? {}, (_, v) => (typeof v === "bigint" ? Number(v) : v)));
  } catch {
    return {};
  }
}

// Requests arrive faster than they can be answered while someone types; only the
// newest one matters, so run the latest after the queued messages are in.
function complete() {
  scheduled = false;
  const request = pending;
  pending = null;
  if (!request) return;
  if (!session) {
    postMessage({
      type: "suggestion", id: request.id, suggestion: "", retyped: 0, ms: 0, tokens: 0,
    });
    return;
  }
  try {
    const start = performance.now();
    const forwarded = session.forwardedTokens;
    const suggestion = session.complete(request.prefix, request.suffix, request.options);
    const ms = performance.now() - start;
    const tokens = session.forwardedTokens - forwarded;
    const retyped = engine.retypedLength(suggestion, request.suffix);
    postMessage({ type: "suggestion", id: request.id, suggestion, retyped, ms, tokens });
    answered = request;
    setTimeout(prepare, 0);
  } catch (error) {
    postMessage({ type: "complete-error", id: request.id, message: error?.message || String(error) });
  }
}

// Idle time: work for the next keystroke (engine.js's prepare: running ahead of the
// window's move, the suggestions after the likeliest next characters), calls of a few
// tokens for up to IDLE_SLICE_MS at a time, until a request comes. A request waits for
// at most one slice; slices rather than one call per task, because browsers hold a
// chain of setTimeout(0) back by 4 ms a step.
const IDLE_SLICE_MS = 4;

function prepare() {
  if (pending || !session || !answered) return;
  try {
    const { prefix, suffix, options } = answered;
    const until = performance.now() + IDLE_SLICE_MS;
    let ran;
    do ran = session.prepare(prefix, suffix, options); while (ran && performance.now() < until);
    if (ran) setTimeout(prepare, 0);
  } catch {
    answered = null; // out of memory: suggestions go on without it
  }
}

onmessage = ({ data }) => {
  if (data.type === "load") {
    load(data);
  } else if (data.type === "complete") {
    pending = data;
    if (!scheduled) {
      scheduled = true;
      setTimeout(complete, 0);
    }
  }
};
