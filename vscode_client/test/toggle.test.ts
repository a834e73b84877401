import assert from "node:assert/strict";
import { test } from "node:test";

import { toggleTarget } from "../src/toggle";

test("writes where the effective value comes from", () => {
  assert.equal(toggleTarget(undefined), "global");
  assert.equal(toggleTarget({}), "global");
  assert.equal(toggleTarget({ globalValue: false }), "global");
  assert.equal(toggleTarget({ globalValue: true, workspaceValue: false }), "workspace");
  assert.equal(toggleTarget({ workspaceValue: true, workspaceFolderValue: false }), "workspaceFolder");
});
