"""The demo's worker (web_demo/worker.js) driven by its messages in Chromium."""

from __future__ import annotations

from playwright import sync_api

from ttcc.engine import Model

# Loads the tiny model in the demo's worker, then asks for a suggestion at the end of
# each prefix in turn, each answer awaited, and the worker left idle for `idleMs` after
# it; returns the answers' "suggestion" and "tokens".
TYPE_IN_WORKER = """async ({ prefixes, options, idleMs }) => {
  const worker = new Worker('/web_demo/worker.js', { type: 'module' });
  const next = (type) => new Promise((resolve, reject) => {
    worker.onmessage = ({ data }) => {
      if (data.type === type) resolve(data);
      else if (data.type.endsWith('error')) reject(new Error(data.message));
    };
  });
  const loaded = next('loaded');
  worker.postMessage({ type: 'load', loadId: 1, url: '/ttcc/models/tiny.ttc', name: 'tiny' });
  await loaded;
  const answers = [];
  for (const [id, prefix] of prefixes.entries()) {
    const answer = next('suggestion');
    worker.postMessage({ type: 'complete', id, prefix, suffix: '', options });
    const { suggestion, tokens } = await answer;
    answers.push({ suggestion, tokens });
    await new Promise((resolve) => setTimeout(resolve, idleMs));
  }
  worker.terminate();
  return answers;
}"""


def test_the_worker_works_for_the_next_keystroke_while_idle(page: sync_api.Page, site: str,
                                                            tiny: Model) -> None:
    """Typing across a move of the window's start with pauses: the worker's answers are
    the native engine's, and each runs as many tokens as a native session that does the
    engine's idle work with the same options after each answer; no request re-reads the
    window, as one without idle work does (the plain native session here)."""
    page.goto(f"{site}/web_demo/index.html")
    window = tiny.info.window
    text = "total = price * count + tax\n" * (2 * window // 28)
    prefixes = [text[:end] for end in range(window - 48, window + 8)]
    options = {"minConfidence": 0, "maxChars": 16}
    answers = page.evaluate(TYPE_IN_WORKER, {"prefixes": prefixes, "options": options,
                                            "idleMs": 50})  # fmt: skip
    plain, idle = tiny.session(), tiny.session()
    plain_tokens, idle_tokens = [], []
    for prefix, answer in zip(prefixes, answers, strict=True):
        before = plain.forwarded_tokens, idle.forwarded_tokens
        assert answer["suggestion"] == plain.complete(prefix, min_confidence=0.0, max_chars=16)
        idle.complete(prefix, min_confidence=0.0, max_chars=16)
        plain_tokens.append(plain.forwarded_tokens - before[0])
        idle_tokens.append(idle.forwarded_tokens - before[1])
        while idle.prepare(prefix, min_confidence=0.0, max_chars=16):
            pass
    assert [answer["tokens"] for answer in answers] == idle_tokens
    assert max(plain_tokens) > 100  # the move: about three quarters of the window again
    assert max(idle_tokens[1:]) <= 16 + 2
