// The engine in WebAssembly (engine.wasm and engine-relaxed.wasm, built by
// build_wasm.sh from engine_c), wrapped for JavaScript: a Web Worker or node >= 20.
// Like ttcc/engine.py, it only moves text in and out; the engine decides what
// is suggested.
//
//   import { loadPreferredEngine } from './engine.js';
//   const fetchBytes = async (name) => (await fetch(name)).arrayBuffer();
//   const engine = await loadPreferredEngine(fetchBytes); // engine.variant: which module
//   const model = engine.loadModel(new Uint8Array(modelFileBytes));
//   const session = model.session();          // one per document
//   session.complete('def add(a, b):\n    return ');
//   session.complete(prefix, suffix, { multiline, maxChars, minConfidence,
//                                      documentMemory, memoryText });
//   while (idle && session.prepare(prefix, suffix, options)) {} // work for the next keystroke
//   session.free(); model.free();
//
// Text crosses as UTF-8 (TextEncoder): a lone surrogate becomes U+FFFD, one
// character and so one UNK token, as in Python's surrogatepass encoding.

const encoder = new TextEncoder();
const decoder = new TextDecoder(); // invalid UTF-8 becomes U+FFFD, as in Python's "replace"

// The two modules: engine-relaxed.wasm computes its int8 dot products with relaxed
// SIMD (faster), engine.wasm with SIMD128 only (every browser with SIMD).
export const RELAXED_MODULE = 'engine-relaxed.wasm';
export const SIMD128_MODULE = 'engine.wasm';

// loadPreferredEngine(getBytes): getBytes(name) gives (or promises) the bytes of
// RELAXED_MODULE or SIMD128_MODULE. The relaxed module is used when this engine
// validates it (it knows relaxed SIMD) and its kernels pass their self-check
// (relaxed SIMD instructions may be computed differently by other engines: the
// suggestions must be exactly the native engine's); otherwise engine.wasm, with
// fallbackReason saying why. engine.variant: "relaxed-simd" or "simd128".
export async function loadPreferredEngine(getBytes) {
  let fallbackReason;
  try {
    const bytes = await getBytes(RELAXED_MODULE);
    if (!WebAssembly.validate(bytes)) {
      fallbackReason = 'relaxed SIMD is not supported here';
    } else {
      const engine = await loadEngine(bytes);
      if (engine.selfCheck()) return engine;
      fallbackReason = 'relaxed SIMD failed the kernel self-check here';
    }
  } catch (error) {
    fallbackReason = `${RELAXED_MODULE} did not load: ${error?.message || error}`;
  }
  const engine = await loadEngine(await getBytes(SIMD128_MODULE));
  engine.fallbackReason = fallbackReason;
  return engine;
}

// loadEngine(wasmBytes): wasmBytes is the module's bytes (ArrayBuffer or a
// typed array) or a compiled WebAssembly.Module. The module imports nothing.
// It is used as it is, without the self-check (see loadPreferredEngine).
export async function loadEngine(wasmBytes) {
  const instantiated = await WebAssembly.instantiate(wasmBytes, {});
  const wasm = (instantiated.instance ?? instantiated).exports;
  const bytes = () => new Uint8Array(wasm.memory.buffer); // memory.grow detaches old views

  function cString(pointer) {
    const memory = bytes();
    let end = pointer;
    while (memory[end] !== 0) end++;
    return decoder.decode(memory.subarray(pointer, end));
  }

  const message = (status) => cString(wasm.strerror(status));

  function alloc(size) {
    const pointer = wasm.buffer_alloc(size);
    if (pointer === 0) throw new Error(message(2)); // TTC_ERR_OUT_OF_MEMORY
    return pointer;
  }

  // The engine's defaults (ttc_complete_options_init): complete() uses them for the
  // options it is not given.
  const defaults = (() => {
    const pointer = alloc(16);
    try {
      wasm.complete_defaults(pointer, pointer + 4, pointer + 8, pointer + 12);
      const view = new DataView(wasm.memory.buffer, pointer, 16);
      return {
        multiline: [false, true, 'auto'][view.getInt32(0, true)],
        maxChars: view.getInt32(4, true),
        minConfidence: view.getFloat32(8, true),
        documentMemory: view.getInt32(12, true) !== 0,
      };
    } finally {
      wasm.buffer_free(pointer);
    }
  })();

  // multiline: false (the line), true (the block) or 'auto' (the block right after a
  // block opener), as ttc.h's TTC_MULTILINE_* numbers them.
  function multilineMode(multiline) {
    return multiline === 'auto' ? 2 : multiline ? 1 : 0;
  }

  // Runs call(slot) with a 4-byte slot the engine writes a handle or a length into.
  function withSlot(call) {
    const slot = alloc(4);
    try {
      const status = call(slot);
      return { status, value: new Uint32Array(wasm.memory.buffer, slot, 1)[0] };
    } finally {
      wasm.buffer_free(slot);
    }
  }

  // Copies text into the module's memory as UTF-8; returns [pointer, length].
  function putText(text) {
    const capacity = text.length * 3; // at most 3 bytes per UTF-16 unit
    const pointer = alloc(Math.max(capacity, 1));
    const { written } = encoder.encodeInto(text, bytes().subarray(pointer, pointer + capacity));
    return [pointer, written];
  }

  // Runs call([pointer, length] of each text) with the texts in the module's memory.
  function withTexts(texts, call) {
    const placed = [];
    try {
      for (const text of texts) placed.push(putText(text));
      return call(...placed);
    } finally {
      for (const [pointer] of placed) wasm.buffer_free(pointer);
    }
  }

  function loadModel(fileBytes, name = '<bytes>') {
    const data = fileBytes instanceof Uint8Array ? fileBytes : new Uint8Array(fileBytes);
    const pointer = alloc(Math.max(data.length, 1));
    let result;
    try {
      bytes().set(data, pointer);
      result = withSlot((slot) => wasm.model_load(pointer, data.length, slot));
    } finally {
      wasm.buffer_free(pointer); // the engine keeps its own copy
    }
    if (result.status !== 0) throw new Error(`${name}: ${message(result.status)}`);
    return new Model(result.value, name);
  }

  class Model {
    #handle;
    #sessions = 0; // sessions alive: the weights are freed after the last one
    #freed = false;

    constructor(handle, name) {
      this.#handle = handle;
      this.name = name;
      const h = handle;
      this.info = Object.freeze({
        dim: wasm.model_dim(h),
        hiddenDim: wasm.model_hidden_dim(h),
        nLayers: wasm.model_n_layers(h),
        nHeads: wasm.model_n_heads(h),
        nKvHeads: wasm.model_n_kv_heads(h),
        vocabSize: wasm.model_vocab_size(h),
        window: wasm.model_window(h),
        groupSize: wasm.model_group_size(h),
        tiedClassifier: wasm.model_tied_classifier(h) !== 0,
        parameters: wasm.model_parameters(h),
        fileSize: wasm.model_file_size(h),
      });
    }

    // The metadata block as an object ({} when it is not a JSON object).
    get metadata() {
      const pointer = wasm.model_metadata(this.#live());
      const length = wasm.model_metadata_length(this.#handle);
      try {
        const parsed = JSON.parse(decoder.decode(bytes().subarray(pointer, pointer + length)));
        const isObject = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed);
        return isObject ? parsed : {};
      } catch {
        return {};
      }
    }

    // A new session (per-document state). draftTokens: how many tokens a decoding pass
    // may check at once (ttc_session_options.draft_tokens; the engine's default if unset).
    session({ draftTokens = 0 } = {}) {
      const { status, value } = withSlot((slot) =>
        wasm.session_create(this.#live(), draftTokens, slot));
      if (status !== 0) throw new Error(message(status));
      this.#sessions++;
      return new Session(value, this, () => {
        this.#sessions--;
        this.#release();
      });
    }

    // Frees the weights once every session of the model is freed too.
    free() {
      this.#freed = true;
      this.#release();
    }

    #live() {
      if (this.#freed) throw new Error('the model was freed');
      return this.#handle;
    }

    #release() {
      if (this.#freed && this.#sessions === 0 && this.#handle !== 0) {
        wasm.model_free(this.#handle);
        this.#handle = 0;
      }
    }
  }

  class Session {
    #handle;
    #out; // the suggestion buffer, max_suggestion + 1 bytes
    #onFree;

    constructor(handle, model, onFree) {
      this.#handle = handle;
      this.model = model;
      this.#onFree = onFree;
      this.#out = alloc(wasm.max_suggestion() + 1);
    }

    // The suggested text to insert between prefix and suffix ('' when none).
    // documentMemory blends in what followed earlier occurrences of the text before
    // the cursor in the document and in memoryText (e.g. other open files).
    // An option left out (or undefined) is the engine's default.
    complete(prefix, suffix = '', options = {}) {
      const capacity = wasm.max_suggestion() + 1;
      const length = this.#request(prefix, suffix, options, (request, slot) =>
        wasm.session_complete(...request, this.#out, capacity, slot));
      return decoder.decode(bytes().subarray(this.#out, this.#out + length));
    }

    // Idle-time work after complete() answered for this document with these options, so
    // that the next keystroke runs less (ttc_session_prepare): when the document is about
    // to outgrow the model's window, the prompt the next complete() will need once it has;
    // then the suggestions after the four likeliest next characters (the suggestion's
    // first, when one was shown, and three others). Runs up to maxTokens tokens a call
    // (left out: the engine's TTC_PREPARE_TOKENS, what a request may wait for) and returns
    // how many ran (0: nothing left to do). Suggestions are the same with or without it;
    // the caches it runs in take up to four times the session's cache memory more.
    prepare(prefix, suffix = '', { maxTokens = wasm.prepare_tokens(), ...options } = {}) {
      if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > 2 ** 31 - 1) {
        throw new RangeError('maxTokens must be a positive integer');
      }
      return this.#request(prefix, suffix, options, (request, slot) =>
        wasm.session_prepare(...request, maxTokens, slot));
    }

    // Calls the engine with the session, the texts and the options as session_complete
    // and session_prepare take them, and a slot for its result, which it returns.
    #request(prefix, suffix, {
      multiline = defaults.multiline, maxChars = defaults.maxChars,
      minConfidence = defaults.minConfidence, documentMemory = defaults.documentMemory,
      memoryText = '',
    }, call) {
      const handle = this.#live();
      if (!Number.isInteger(maxChars) || Math.abs(maxChars) > 2 ** 31 - 1) {
        throw new RangeError('maxChars must be an integer');
      }
      const texts = [String(prefix), String(suffix), String(memoryText)];
      const result = withTexts(texts, (prefixText, suffixText, memory) => withSlot((slot) =>
        call([handle, ...prefixText, ...suffixText, multilineMode(multiline), maxChars,
          Number(minConfidence), documentMemory ? 1 : 0, ...memory], slot)));
      if (result.status !== 0) throw new Error(message(result.status));
      return result.value;
    }

    // Runs tokens (integers 0..vocab-1, from position 0, reusing what the session
    // already ran) and returns the logits after the last one (Float32Array of
    // vocabSize). For benchmarks and tests.
    lastLogits(tokens) {
      const handle = this.#live();
      const ids = tokens instanceof Int32Array ? tokens : Int32Array.from(tokens);
      const vocab = this.model.info.vocabSize;
      const tokensPointer = alloc(Math.max(ids.length * 4, 4));
      const outPointer = alloc(vocab * 4);
      try {
        new Int32Array(wasm.memory.buffer, tokensPointer, ids.length).set(ids);
        const status = wasm.session_last_logits(handle, tokensPointer, ids.length, outPointer);
        if (status !== 0) throw new Error(message(status));
        return new Float32Array(wasm.memory.buffer, outPointer, vocab).slice();
      } finally {
        wasm.buffer_free(outPointer);
        wasm.buffer_free(tokensPointer);
      }
    }

    // Tokens run through the model by this session so far.
    get forwardedTokens() {
      return wasm.session_forwarded_tokens(this.#live());
    }

    // Memory the session holds: its KV cache, logits and scratch.
    get memoryBytes() {
      return wasm.session_memory(this.#live());
    }

    // Name of the kernel set the session computes with ("wasm": the module's
    // SIMD kernels, SIMD128 or relaxed SIMD as engine.variant says).
    get kernels() {
      return cString(wasm.session_kernels(this.#live()));
    }

    free() {
      if (this.#handle === 0) return;
      wasm.session_free(this.#handle);
      wasm.buffer_free(this.#out);
      this.#handle = 0;
      this.#onFree();
    }

    #live() {
      if (this.#handle === 0) throw new Error('the session was freed');
      return this.#handle;
    }
  }

  // How many characters right after the cursor the suggestion types again (the
  // engine's rule), which accepting it should replace.
  function retypedLength(suggestion, suffix) {
    // It can retype no more than itself: pass only that much of the suffix.
    const texts = [suggestion, suffix.slice(0, suggestion.length)];
    return withTexts(texts, (suggestionText, suffixText) =>
      wasm.retyped_length(...suggestionText, ...suffixText));
  }

  return {
    loadModel,
    retypedLength,
    message, // the engine's text for a status code
    // "relaxed-simd" (engine-relaxed.wasm) or "simd128" (engine.wasm)
    variant: cString(wasm.engine_variant()),
    // Whether this module's SIMD kernels give exactly the generic kernels'
    // results here (a quick fixed test, about a millisecond).
    selfCheck: () => wasm.kernels_self_check() === 1,
    fallbackReason: null, // set by loadPreferredEngine when it fell back to engine.wasm
    get memoryBytes() {
      return wasm.memory.buffer.byteLength;
    },
    exports: wasm, // the raw exports, for tests
  };
}
