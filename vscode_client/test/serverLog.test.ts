import assert from "node:assert/strict";
import { test } from "node:test";

import { ServerLogParser } from "../src/serverLog";

test("levels and the server's own timestamp", () => {
  const parser = new ServerLogParser();
  assert.deepEqual(parser.line("2026-11-29 11:45:12,454 INFO server.lsp: ready"), {
    level: "info",
    text: "server.lsp: ready",
  });
  assert.deepEqual(parser.line("2026-11-29 11:45:12,454 WARNING server.lsp: ttcc.maxChars: bad"), {
    level: "warn",
    text: "server.lsp: ttcc.maxChars: bad",
  });
  assert.equal(parser.line("2026-11-29 11:45:12,454 CRITICAL x: y").level, "error");
  assert.equal(parser.line("2026-11-29 11:45:12,454 DEBUG x: y").level, "debug");
});

test("continuation lines keep the level before them", () => {
  const parser = new ServerLogParser();
  assert.equal(parser.line("plain start").level, "info");
  parser.line("2026-11-29 11:45:12,454 ERROR server.lsp: completion failed");
  assert.deepEqual(parser.line("Traceback (most recent call last):"), {
    level: "error",
    text: "Traceback (most recent call last):",
  });
});
