// The page: an editor with ghost text, a language picker and a status line.
// The model runs in worker.js; this file only moves text to it and draws answers.

const LANGUAGES = ["c", "cpp", "go", "java", "javascript", "kotlin", "php", "python", "rust", "typescript", "base"];
const DEFAULT_LANGUAGE = "python";
const STORAGE_KEY = "ttcc.language";
const INDENT = "    ";

const $ = (id) => document.getElementById(id);
const code = $("code");
const overlay = $("overlay");
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

let nextId = 0;
let latest = null;          // the newest unanswered request: {id, value, caret}
let ghost = null;           // the suggestion shown: {text, retyped, value, caret}
let lastSuggestion = null;  // the latest answer shown: {id, text, ms}
let waiters = [];           // resolved when the latest request is answered or dropped

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });

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
  loadModel(`../ttcc/models/${language}.ttc`);
}

function onLoaded(info, metadata, engine) {
  modelInfo = { ...info, metadata };
  engineAbout = engine ?? null;
  progressRow.hidden = true;
  setState("ready");
  resolveReady("ready");
  if (document.activeElement === code) requestSuggestion();
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

// ---- suggestions ---------------------------------------------------------

function caretOf() {
  return code.selectionStart === code.selectionEnd ? code.selectionStart : null;
}

function settle() {
  const done = waiters;
  waiters = [];
  for (const resolve of done) resolve(ghost ? ghost.text : "");
}

function dropRequest() {
  latest = null;
  settle();
}

function requestSuggestion() {
  const caret = caretOf();
  if (caret === null || state !== "ready") {
    dropRequest();
    return;
  }
  const value = code.value;
  nextId += 1;
  latest = { id: nextId, value, caret };
  worker.postMessage({
    type: "complete",
    id: nextId,
    prefix: value.slice(0, caret),
    suffix: value.slice(caret),
    options: { ...options },
  });
}

function onSuggestion(id, text, retyped, ms) {
  if (!latest || id !== latest.id) return; // a newer request is on its way
  const request = latest;
  latest = null;
  if (code.value === request.value && caretOf() === request.caret) {
    lastSuggestion = { id, text, ms };
    ghost = text ? { text, retyped, value: request.value, caret: request.caret } : null;
    render();
    renderStatus();
  }
  settle();
}

function clearSuggestion() {
  ghost = null;
  dropRequest();
  render();
}

// Typing the first characters of the suggestion keeps the rest on screen
// until the new answer arrives.
function typedThrough(previous) {
  if (!previous) return null;
  const value = code.value;
  const caret = caretOf();
  const typed = caret - previous.caret;
  // What it retypes after the caret stays the same while the rest still holds it.
  if (typed <= 0 || previous.text.length - typed < Math.max(previous.retyped, 1)) return null;
  const expected =
    previous.value.slice(0, previous.caret) + previous.text.slice(0, typed) + previous.value.slice(previous.caret);
  return value === expected
    ? { text: previous.text.slice(typed), retyped: previous.retyped, value, caret }
    : null;
}

function accept() {
  const { text, retyped, caret } = ghost;
  // The engine said how much of what follows the caret (a closing bracket, say)
  // the suggestion types again: it replaces that text instead of repeating it.
  ghost = null;
  insertText(text, caret, caret + retyped);
}

// Inserts text in place of [start, end) as if typed: it stays undoable and fires "input".
function insertText(text, start, end) {
  code.setSelectionRange(start, end);
  if (!document.execCommand("insertText", false, text)) {
    code.setRangeText(text, start, end, "end");
    code.dispatchEvent(new InputEvent("input", { bubbles: true, inputType: "insertText", data: text }));
  }
}

// ---- drawing -------------------------------------------------------------

function render() {
  const value = code.value;
  const shown = ghost && ghost.value === value && ghost.caret === caretOf() ? ghost : null;
  if (!shown) ghost = null;
  const nodes = [];
  if (shown) {
    const span = document.createElement("span");
    span.className = "ghost";
    span.textContent = shown.text;
    nodes.push(value.slice(0, shown.caret), span, value.slice(shown.caret));
  } else {
    nodes.push(value);
  }
  nodes.push(" "); // keeps a final empty line as tall as in the textarea
  overlay.replaceChildren(...nodes);
  code.dataset.suggestion = shown ? shown.text : "";
  syncScroll();
}

function syncScroll() {
  overlay.style.height = `${code.offsetHeight}px`;
  overlay.scrollTop = code.scrollTop;
  overlay.scrollLeft = code.scrollLeft;
}

// ---- events --------------------------------------------------------------

code.addEventListener("input", (event) => {
  const previous = ghost;
  ghost = null;
  if (event.isComposing) {
    dropRequest();
    render();
    return;
  }
  ghost = typedThrough(previous);
  render();
  requestSuggestion();
});

code.addEventListener("keydown", (event) => {
  if (event.isComposing) return;
  const plain = !event.shiftKey && !event.ctrlKey && !event.altKey && !event.metaKey;
  if (event.key === "Tab" && plain) {
    event.preventDefault();
    if (ghost && ghost.value === code.value && ghost.caret === caretOf()) accept();
    else insertText(INDENT, code.selectionStart, code.selectionEnd);
  } else if (event.key === "Escape") {
    if (ghost || latest) event.preventDefault();
    clearSuggestion();
  } else if (/^(Arrow|Page)|^(Home|End)$/.test(event.key)) {
    clearSuggestion();
  }
});

code.addEventListener("mousedown", clearSuggestion);
code.addEventListener("blur", clearSuggestion);
code.addEventListener("scroll", syncScroll);
new ResizeObserver(syncScroll).observe(code);
document.addEventListener("selectionchange", () => {
  if (ghost && ghost.caret !== caretOf()) clearSuggestion();
});

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
  clearSuggestion();
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
  suggestion: () => (ghost ? ghost.text : ""),
  /** Whether a request for the current text is still unanswered. */
  pending: () => latest !== null,
  /** Resolves with the ghost text once the latest request is answered or dropped. */
  settled: () => (latest ? new Promise((resolve) => waiters.push(resolve)) : Promise.resolve(ghost ? ghost.text : "")),
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
render();
