// The page: an editor with ghost text (editor.js), a language picker, a status line and
// what the suggestions saved. The model runs in worker.js; this file moves text to it
// and hands its answers to the editor.

import { createEditor } from "./editor.js";
import { Savings } from "./savings.js";

const LANGUAGES = ["c", "cpp", "go", "java", "javascript", "kotlin", "php", "python", "rust", "typescript", "base"];
const DEFAULT_LANGUAGE = "python";
const STORAGE_KEY = "ttcc.language";
// The short program per language that the editor starts with (ttcc/models/samples/).
const EXAMPLES = {
  c: "c.c", cpp: "cpp.cpp", go: "go.go", java: "java.java", javascript: "javascript.js",
  kotlin: "kotlin.kt", php: "php.php", python: "python.py", rust: "rust.rs", typescript: "typescript.ts",
};

const $ = (id) => document.getElementById(id);
const editorHost = $("editor");
const languageSelect = $("language");
const multilineBox = $("multiline");
const memoryBox = $("memory");
const progressRow = $("progress-row");
const progress = $("progress");
const progressText = $("progress-text");
const errorBanner = $("error");
const errorText = $("error-text");
const statusDetails = $("status-details");
const statusState = $("status-state"); // a live region: only state changes are announced
const savingsLine = $("savings");

// ---- options: ?minConfidence=0&maxChars=16&multiline=1&memory=0&model=URL ---

const params = new URLSearchParams(location.search);

// A number in [min, max] when the query gives one; else undefined: the engine's default.
function numberParam(name, min, max) {
  const value = Number(params.get(name) ?? NaN);
  return params.has(name) && Number.isFinite(value) ? Math.min(max, Math.max(min, value)) : undefined;
}

const maxChars = numberParam("maxChars", 1, 256);
const options = {
  // the line (0), the block (1) or the block after a block opener (auto); unset: the
  // engine's default
  multiline: new Map([["0", false], ["false", false], ["1", true], ["true", true],
    ["auto", "auto"]]).get(params.get("multiline")),
  maxChars: maxChars === undefined ? undefined : Math.round(maxChars),
  minConfidence: numberParam("minConfidence", 0, 1),
  // The document itself (prefix and suffix) is the engine's memory.
  documentMemory: !["0", "false"].includes(params.get("memory")),
};
multilineBox.checked = options.multiline === true;
memoryBox.checked = options.documentMemory;

// ---- state ---------------------------------------------------------------

let state = "loading";      // "loading" | "ready" | "error"
let loadId = 0;
let modelName = "";
let modelInfo = null;
let engineAbout = null; // {variant, fallbackReason} of the worker's engine module
let resolveReady = () => {};
let readyPromise = null;
let example = null;         // the example text the editor holds untouched

let nextId = 0;
let latest = null;          // the newest unanswered request: {id, doc, caret}
let lastSuggestion = null;  // the latest answer shown: {id, text, ms}
let waiters = [];           // resolved when the latest request is answered or dropped
const savings = new Savings();

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });

const editor = createEditor(editorHost, {
  touch: navigator.maxTouchPoints > 0 || matchMedia("(pointer: coarse)").matches,
  attributes: { id: "code", "aria-label": "Code editor", "aria-describedby": "help" },
  on: {
    edited: requestSuggestion,
    dismissed: dropRequest,
    typed: (count) => {
      savings.typed(count);
      renderSavings();
    },
    accepted: (count) => {
      savings.accepted(count);
      renderSavings();
    },
    suggestionShown: (text) => (editorHost.dataset.suggestion = text),
  },
});

function setState(next) {
  state = next;
  document.body.dataset.state = next;
  renderStatus();
}

// ---- model loading -------------------------------------------------------

function storedLanguage() {
  try {
    const language = localStorage.getItem(STORAGE_KEY);
    return LANGUAGES.includes(language) ? language : DEFAULT_LANGUAGE;
  } catch {
    return DEFAULT_LANGUAGE;
  }
}

function storeLanguage(language) {
  try {
    localStorage.setItem(STORAGE_KEY, language);
  } catch {
    // storage disabled: the choice just does not persist
  }
}

function fileName(url) {
  const name = new URL(url, location.href).pathname.split("/").pop();
  try {
    return decodeURIComponent(name) || url;
  } catch {
    return name || url;
  }
}

function loadModel(url) {
  loadId += 1;
  modelName = fileName(url);
  modelInfo = null;
  clearSuggestion();
  hideError();
  showProgress(0, null);
  readyPromise = new Promise((resolve) => (resolveReady = resolve));
  setState("loading");
  const absolute = new URL(url, location.href);
  if (absolute.origin !== location.origin) {
    onLoadError(`${modelName}: models load from this site only, not from ${absolute.origin}`);
    return;
  }
  worker.postMessage({ type: "load", loadId, url: absolute.href, name: modelName });
}

function loadLanguage(language) {
  editor.setLanguage(language);
  showExample(language);
  loadModel(`../ttcc/models/${language}.ttc`);
}

// An empty editor, or one still holding the previous language's example, gets this
// language's example; the user's own text stays. Without the file, nothing changes.
async function showExample(language) {
  if (!EXAMPLES[language]) return;
  let text;
  try {
    const response = await fetch(`../ttcc/models/samples/${EXAMPLES[language]}`);
    if (!response.ok) return;
    text = await response.text();
  } catch {
    return;
  }
  const current = editor.text();
  if (current === "" || current === example) {
    editor.setText(text);
    example = text;
  }
}

function onLoaded(info, metadata, engine) {
  modelInfo = { ...info, metadata };
  engineAbout = engine ?? null;
  progressRow.hidden = true;
  setState("ready");
  resolveReady("ready");
  if (editor.view.hasFocus) requestSuggestion();
}

function onLoadError(message) {
  progressRow.hidden = true;
  showError(`Could not load the model — ${message}. The editor works without suggestions; pick a language to try again.`);
  setState("error");
  resolveReady("error");
  dropRequest();
}

function showProgress(loaded, total) {
  progressRow.hidden = false;
  if (total) {
    progress.max = total;
    progress.value = loaded;
    progressText.textContent = `${formatBytes(loaded)} of ${formatBytes(total)}`;
  } else {
    progress.removeAttribute("value"); // indeterminate
    progressText.textContent = loaded ? formatBytes(loaded) : "";
  }
}

function showError(message) {
  errorText.textContent = message;
  errorBanner.hidden = false;
}

function hideError() {
  errorBanner.hidden = true;
  errorText.textContent = "";
}

// ---- status line ---------------------------------------------------------

function formatBytes(bytes) {
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MB`;
  if (bytes >= 1 << 10) return `${(bytes / (1 << 10)).toFixed(1)} KB`;
  return `${bytes} B`;
}

function renderStatus() {
  const parts = [modelName || "no model"];
  if (modelInfo) {
    const parameters = modelInfo.parameters;
    const size = modelInfo.fileSize ?? modelInfo.file_size;
    if (parameters != null) parts.push(`${Number(parameters).toLocaleString("en-US")} parameters`);
    if (size != null) parts.push(formatBytes(Number(size)));
  }
  if (engineAbout?.variant) parts.push(`wasm ${engineAbout.variant}`);
  if (lastSuggestion) parts.push(`last suggestion ${lastSuggestion.ms.toFixed(1)} ms`);
  statusDetails.textContent = `${parts.join(" · ")} · `;
  statusDetails.title = engineAbout?.fallbackReason ? `engine.wasm: ${engineAbout.fallbackReason}` : "";
  if (statusState.textContent !== state) statusState.textContent = state;
}

function renderSavings() {
  const { typed, accepted, saved } = savings.summary();
  savingsLine.textContent =
    `typed ${typed} · accepted ${accepted} · keystrokes saved ${(100 * saved).toFixed(1)} %`;
}

// ---- suggestions ---------------------------------------------------------

function settle() {
  const done = waiters;
  waiters = [];
  const shown = editor.ghost()?.text ?? "";
  for (const resolve of done) resolve(shown);
}

function dropRequest() {
  latest = null;
  settle();
}

function requestSuggestion() {
  const caret = editor.caret();
  if (caret === null || state !== "ready") {
    dropRequest();
    return;
  }
  const value = editor.text();
  nextId += 1;
  latest = { id: nextId, doc: editor.view.state.doc, caret };
  worker.postMessage({
    type: "complete",
    id: nextId,
    prefix: value.slice(0, caret),
    suffix: value.slice(caret),
    options: { ...options },
  });
}

function clearSuggestion() {
  editor.show("");
  dropRequest();
}

function onSuggestion(id, text, retyped, ms) {
  if (!latest || id !== latest.id) return; // a newer request is on its way
  const request = latest;
  latest = null;
  // The editor's text is immutable: the same object means not a character changed.
  if (editor.view.state.doc === request.doc && editor.caret() === request.caret) {
    lastSuggestion = { id, text, ms };
    editor.show(text, retyped);
    renderStatus();
  }
  settle();
}

// ---- controls ------------------------------------------------------------

languageSelect.addEventListener("change", () => {
  const choice = languageSelect.value;
  if (LANGUAGES.includes(choice)) {
    storeLanguage(choice);
    loadLanguage(choice);
  } else if (choice === "custom") {
    loadModel(params.get("model"));
  }
});

multilineBox.addEventListener("change", () => {
  options.multiline = multilineBox.checked ? true : undefined; // unchecked: the default
  clearSuggestion();
});

// The switch shows its effect at once: the suggestion for the same text, asked again.
memoryBox.addEventListener("change", () => {
  options.documentMemory = memoryBox.checked;
  editor.show("");
  requestSuggestion();
});

$("error-close").addEventListener("click", hideError);

worker.addEventListener("message", ({ data }) => {
  if (data.type === "suggestion") onSuggestion(data.id, data.suggestion, data.retyped, data.ms);
  else if (data.type === "complete-error") {
    showError(`Suggestion failed: ${data.message}`);
    onSuggestion(data.id, "", 0);
  } else if (data.loadId !== loadId) return; // an earlier model's news
  else if (data.type === "progress") showProgress(data.loaded, data.total);
  else if (data.type === "loaded") onLoaded(data.info, data.metadata, data.engine);
  else if (data.type === "load-error") onLoadError(data.message);
});

worker.addEventListener("error", (event) => {
  event.preventDefault();
  onLoadError(`the engine could not start (${event.message || "worker error"})`);
});

// ---- start ---------------------------------------------------------------

window.ttcDemo = {
  /** Resolves with "ready" or "error" when the current model load ends. */
  get ready() {
    return readyPromise;
  },
  state: () => state,
  /** The text of the latest answer that was shown ("" for none). */
  lastSuggestion: () => (lastSuggestion ? lastSuggestion.text : ""),
  /** The ghost text on screen now. */
  suggestion: () => editor.ghost()?.text ?? "",
  /** Whether a request for the current text is still unanswered. */
  pending: () => latest !== null,
  /** Resolves with the ghost text once the latest request is answered or dropped. */
  settled: () => (latest ? new Promise((resolve) => waiters.push(resolve)) : Promise.resolve(editor.ghost()?.text ?? "")),
  /** The editor's text, and the caret's offset in it (null while text is selected). */
  text: () => editor.text(),
  caret: () => editor.caret(),
  savings: () => savings.summary(),
  info: () => modelInfo,
  engine: () => engineAbout,
};

const customModel = params.get("model");
if (customModel) {
  const option = new Option(`Custom: ${fileName(customModel)}`, "custom");
  languageSelect.append(option);
  languageSelect.value = "custom";
  loadModel(customModel);
} else {
  const language = storedLanguage();
  languageSelect.value = language;
  loadLanguage(language);
}
renderSavings();
