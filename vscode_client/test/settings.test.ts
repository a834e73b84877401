import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { expandHome, type Get, LAUNCH_SETTINGS, SERVER_SETTINGS, serverLaunch, serverSettings } from "../src/settings";

const manifest = JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8"));
const properties: Record<string, { default: unknown }> = manifest.contributes.configuration.properties;

const getter = (values: Record<string, unknown>): Get => (key) => values[key];

test("every server setting is contributed as ttcc.<name>", () => {
  for (const key of SERVER_SETTINGS) {
    assert.ok(properties[`ttcc.${key}`], `ttcc.${key} missing from package.json`);
  }
});

test("every launch setting is contributed", () => {
  for (const key of LAUNCH_SETTINGS) {
    assert.ok(properties[`ttcc.${key}`], `ttcc.${key} missing from package.json`);
  }
});

test("the contributed defaults map to the server's flat settings", () => {
  const defaults = getter(Object.fromEntries(Object.entries(properties).map(([k, v]) => [k.slice(5), v.default])));
  assert.deepEqual(serverSettings(defaults), {
    enabled: true,
    enabledLanguages: ["c", "cpp", "go", "java", "javascript", "kotlin", "php", "python", "rust", "typescript"],
    unknownLanguages: "base",
    multiline: "auto",
    maxChars: 64,
    minConfidence: 0.65,
    documentMemory: true,
    memoryFromOpenDocuments: true,
    debounceMs: 0,
    memoryBudgetMb: 256,
  });
});

test("serverSettings keeps only server settings and drops unset ones", () => {
  const sent = serverSettings(getter({ enabled: false, maxChars: 12, "server.pythonPath": "py", trace: {} }));
  assert.deepEqual(sent, { enabled: false, maxChars: 12 });
});

test("serverSettings passes values through for the server to check", () => {
  assert.deepEqual(serverSettings(getter({ minConfidence: "high" })), { minConfidence: "high" });
});

test("serverLaunch defaults: the managed python -m ttcc.server in the extension's directory", () => {
  assert.deepEqual(serverLaunch(getter({}), "/ext", "/home/u", "/store/python/bin/python"), {
    command: "/store/python/bin/python",
    args: ["-m", "ttcc.server", "--stdio"],
    cwd: "/ext",
  });
});

test("the contributed pythonPath default is empty: the managed environment", () => {
  assert.equal(properties["ttcc.server.pythonPath"].default, "");
  assert.equal(properties["ttcc.server.basePython"].default, "");
});

test("the interpreter settings restart the server and are restricted in untrusted workspaces", () => {
  const restricted: string[] = manifest.capabilities.untrustedWorkspaces.restrictedConfigurations;
  for (const key of ["server.pythonPath", "server.basePython", "server.directory", "server.modelsDir"]) {
    assert.ok(LAUNCH_SETTINGS.includes(key), key);
    assert.ok(restricted.includes(`ttcc.${key}`), key);
    assert.equal((properties[`ttcc.${key}`] as { scope?: string }).scope, "machine-overridable", key);
  }
});

test("serverLaunch uses the interpreter, directory, models and log level", () => {
  const launch = serverLaunch(
    getter({
      "server.pythonPath": " ~/ttcc/.venv/bin/python ",
      "server.directory": "/src/ttcc",
      "server.modelsDir": "~/models",
      "server.logLevel": "debug",
    }),
    "/ext",
    "/home/u/",
    "/store/python/bin/python",
  );
  assert.deepEqual(launch, {
    command: "/home/u/ttcc/.venv/bin/python",
    args: ["-m", "ttcc.server", "--stdio", "--models-dir", "/home/u/models", "--log-level", "debug"],
    cwd: "/src/ttcc",
  });
});

test("serverLaunch ignores empty and ill-typed values", () => {
  const launch = serverLaunch(
    getter({ "server.pythonPath": "  ", "server.directory": 3, "server.logLevel": "loud" }),
    "/ext",
    "/h",
    "/managed",
  );
  assert.deepEqual(launch, { command: "/managed", args: ["-m", "ttcc.server", "--stdio"], cwd: "/ext" });
});

test("expandHome only expands a leading ~", () => {
  assert.equal(expandHome("~", "/h"), "/h");
  assert.equal(expandHome("~/a", "/h"), "/h/a");
  assert.equal(expandHome("a/~/b", "/h"), "a/~/b");
  assert.equal(expandHome("~user/a", "/h"), "~user/a");
});
