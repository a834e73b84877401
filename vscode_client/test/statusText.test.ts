import assert from "node:assert/strict";
import { test } from "node:test";

import { formatMs, statusText } from "../src/statusText";

test("on: the last suggestion's model and engine time; click toggles", () => {
  const shown = statusText({ enabled: true, server: "running", model: "python.ttc", lastSuggestionMs: 12.4 });
  assert.equal(shown.text, "$(sparkle) ttcc python.ttc 12 ms");
  assert.equal(shown.command, "ttcc.toggle");
  assert.match(shown.tooltip, /from python\.ttc/);
  assert.match(shown.tooltip, /Last suggestion: 12 ms in the engine/);
});

test("a model adapted to the project says so", () => {
  const shown = statusText({ enabled: true, server: "running", model: "python.ttc", lastSuggestionMs: 2, adaptedTo: "/work/app" });
  assert.equal(shown.text, "$(sparkle) ttcc python.ttc adapted 2.0 ms");
  assert.match(shown.tooltip, /from python\.ttc, adapted to \/work\/app/);
});

test("on, before any suggestion", () => {
  const shown = statusText({ enabled: true, server: "running", model: undefined, lastSuggestionMs: undefined });
  assert.equal(shown.text, "$(sparkle) ttcc");
  assert.doesNotMatch(shown.tooltip, /Last suggestion/);
});

test("off", () => {
  const shown = statusText({ enabled: false, server: "running", model: "c.ttc", lastSuggestionMs: 3 });
  assert.equal(shown.text, "$(circle-slash) ttcc");
  assert.equal(shown.command, "ttcc.toggle");
});

test("a stopped server: click restarts it", () => {
  const shown = statusText({ enabled: true, server: "stopped", model: "c.ttc", lastSuggestionMs: undefined });
  assert.equal(shown.text, "$(warning) ttcc");
  assert.equal(shown.command, "ttcc.restartServer");
});

test("starting shows a spinner", () => {
  assert.match(statusText({ enabled: true, server: "starting", model: "go.ttc", lastSuggestionMs: undefined }).text, /loading~spin/);
});

test("formatMs", () => {
  assert.equal(formatMs(8.26), "8.3 ms");
  assert.equal(formatMs(10.4), "10 ms");
  assert.equal(formatMs(250.6), "251 ms");
});
