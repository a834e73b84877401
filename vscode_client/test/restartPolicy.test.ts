import assert from "node:assert/strict";
import { test } from "node:test";

import { CrashWindow } from "../src/restartPolicy";

test("restarts up to the limit within the window, then stops", () => {
  let now = 0;
  const crashes = new CrashWindow(3, 1000, () => now);
  assert.deepEqual([1, 2, 3, 4].map(() => crashes.crashed()), [true, true, true, false]);
});

test("old crashes leave the window", () => {
  let now = 0;
  const crashes = new CrashWindow(2, 1000, () => now);
  crashes.crashed();
  crashes.crashed();
  now = 1500;
  assert.equal(crashes.crashed(), true);
  assert.equal(crashes.crashed(), true);
  assert.equal(crashes.crashed(), false);
});

test("reset forgets crashes", () => {
  const crashes = new CrashWindow(1, 1000, () => 0);
  crashes.crashed();
  assert.equal(crashes.crashed(), false);
  crashes.reset();
  assert.equal(crashes.crashed(), true);
});
