// The completion cases of tests/web/test_wasm_engine.py, run through an engine of
// web_demo/engine.js: shared by node (engine_wasm_check.mjs) and Chromium
// (test_wasm_engine.py loads this module in a page), so it imports nothing.
//
// runCases(engine, modelBytes, modelName, cases, draftTokens) returns {"variant",
// "fallbackReason", "selfCheck", "kernels", "info", "metadata", "results":
// [{"text", "forwarded", "prepared"}], "memory": {"sessions": [...], "models": [...]}}:
// the results of the cases, in order in one session (a case with "prepare": n then
// prepares n tokens at a time until nothing is left, "prepared" counting them), then
// the module's memory
// size after each of 50 session create/complete/free rounds and 10 model
// load/free rounds. The cases' session checks draftTokens tokens a pass (0: the engine's
// default). A model that does not load gives {"error": message}.

function jsOptions(options = {}) {
  const names = {
    multiline: 'multiline',
    max_chars: 'maxChars',
    min_confidence: 'minConfidence',
    document_memory: 'documentMemory',
    memory_text: 'memoryText',
  };
  return Object.fromEntries(Object.entries(options).map(([key, value]) => [names[key], value]));
}

export function runCases(engine, modelBytes, modelName, cases, draftTokens = 0) {
  let model;
  try {
    model = engine.loadModel(modelBytes, modelName);
  } catch (error) {
    return { error: error.message };
  }

  const session = model.session({ draftTokens });
  const results = cases.map(({ prefix, suffix = '', options, prepare }) => {
    const result = { text: session.complete(prefix, suffix, jsOptions(options)) };
    if (prepare) {
      result.prepared = 0;
      const idle = { ...jsOptions(options), maxTokens: prepare };
      for (let ran; (ran = session.prepare(prefix, suffix, idle));) result.prepared += ran;
    }
    result.forwarded = session.forwardedTokens;
    return result;
  });
  const kernels = session.kernels;
  session.free();

  const memory = { sessions: [], models: [] };
  const probe = cases[0] ?? { prefix: 'x' };
  for (let i = 0; i < 50; i++) {
    const s = model.session();
    s.complete(probe.prefix, probe.suffix ?? '', jsOptions(probe.options));
    s.free();
    memory.sessions.push(engine.memoryBytes);
  }
  const { info } = model;
  const metadata = model.metadata;
  model.free();
  for (let i = 0; i < 10; i++) {
    const m = engine.loadModel(modelBytes, modelName);
    m.session().free();
    m.free();
    memory.models.push(engine.memoryBytes);
  }

  return {
    variant: engine.variant,
    fallbackReason: engine.fallbackReason,
    selfCheck: engine.selfCheck(),
    kernels,
    info,
    metadata,
    results,
    memory,
  };
}
