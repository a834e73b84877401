import assert from "node:assert/strict";
import { test } from "node:test";

import {
  adaptCommand,
  formatBytes,
  languageChoices,
  outcome,
  parseCodeByLanguage,
  progressPercent,
} from "../src/adaptation";

const launch = { command: "/env/bin/python", args: ["-m", "ttcc.server", "--stdio"], cwd: "/ext" };

test("languages: most code first, single files left out, the big ones picked", () => {
  const found = parseCodeByLanguage(
    '[{"language": "python", "files": 40, "bytes": 500000}, {"language": "typescript", "files": 9, "bytes": 120000},' +
      ' {"language": "go", "files": 3, "bytes": 90000}, {"language": "rust", "files": 1, "bytes": 300}]',
  );
  const choices = languageChoices(found);
  assert.deepEqual(
    choices.map((c) => [c.language, c.picked]),
    [
      ["python", true],
      ["typescript", true],
      ["go", false],
    ],
  );
  assert.equal(choices[0].description, "40 files, 500 KB");
});

test("no usable language", () => {
  assert.deepEqual(languageChoices(parseCodeByLanguage("[]")), []);
  assert.throws(() => parseCodeByLanguage('{"error": 1}'), /unexpected output/);
});

test("formatBytes", () => {
  assert.equal(formatBytes(999), "999 bytes");
  assert.equal(formatBytes(12_345), "12 KB");
  assert.equal(formatBytes(5_250_000), "5.3 MB");
});

test("the adaptation runs like the server: its Python, directory and models", () => {
  const settings: Record<string, unknown> = { "adapt.minutes": 0.5, "server.modelsDir": "~/models" };
  const command = adaptCommand(launch, (key) => settings[key], "/home/u", "/work/app", "python", "/tmp/r.json");
  assert.equal(command.command, "/env/bin/python");
  assert.equal(command.cwd, "/ext");
  assert.deepEqual(command.args, [
    "-m", "training.adapt", "/work/app", "--language", "python", "--progress-lines",
    "--json", "/tmp/r.json", "--minutes", "0.5", "--models-dir", "/home/u/models",
  ]); // prettier-ignore
});

test("no budget set, or a bad one: training.adapt's default", () => {
  for (const minutes of [undefined, 0, -1, "3"]) {
    const command = adaptCommand(launch, (key) => (key === "adapt.minutes" ? minutes : undefined), "/h", "/w", "go", "/r");
    assert.ok(!command.args.includes("--minutes"), String(minutes));
  }
});

test("progress lines", () => {
  assert.equal(progressPercent("progress 42 %"), 42);
  assert.equal(progressPercent("progress 100 %\r"), 100);
  assert.equal(progressPercent("training for 200 s"), undefined);
});

test("the outcome says what was kept", () => {
  const before = { bits_per_char: 1.0, keystrokes_saved: 0.3, fully_correct: 0.7 };
  const after = { bits_per_char: 0.85, keystrokes_saved: 0.4, fully_correct: 0.72 };
  assert.equal(
    outcome("python", { kept: true, before, after }),
    "python: adapted (bits/char 1.000 → 0.850, keystrokes saved 30.0 % → 40.0 % on held-out files)",
  );
  assert.equal(
    outcome("go", { kept: false, before, after, worse: ["fully correct 60.0 % < 70.0 %"] }),
    "go: the shipped model stays, adapting did not help (fully correct 60.0 % < 70.0 %)",
  );
});
