import assert from "node:assert/strict";
import * as os from "node:os";
import { test } from "node:test";

import {
  baseCandidates,
  type Candidate,
  failureMessage,
  findWheels,
  healthy,
  judgeBase,
  makeStamp,
  parseProbe,
  parseStamp,
  pipEnvironment,
  pipInstallArgs,
  PROBE_SCRIPT,
  type ProbeInfo,
  type Stamp,
  stampMatches,
  target,
  venvArgs,
} from "../src/pythonEnv";
import { runProcess } from "../src/pythonSetup";

const PATH_PYTHON: Candidate = { command: "python3", source: "path" };
const INFO: ProbeInfo = { executable: "/usr/bin/python3", version: [3, 11, 2], implementation: "cpython", venv: true };

const probeOutput = (data: object) => `ttcc-probe:${JSON.stringify(data)}\n`;

test("the base Python: the setting alone, else the Python extension's, then python3 on PATH", () => {
  assert.deepEqual(baseCandidates("/opt/py/bin/python3.12", "/venv/bin/python"), [
    { command: "/opt/py/bin/python3.12", source: "setting" },
  ]);
  assert.deepEqual(baseCandidates("", undefined), [PATH_PYTHON]);
  assert.deepEqual(baseCandidates("", "/venv/bin/python"), [
    { command: "/venv/bin/python", source: "pythonExtension" },
    PATH_PYTHON,
  ]);
  assert.deepEqual(baseCandidates("", "python3"), [{ command: "python3", source: "pythonExtension" }]);
});

test("parseProbe finds its line among others", () => {
  const stdout = "hello from sitecustomize\n" + probeOutput({ ...INFO, version: [3, 11, 2] });
  assert.deepEqual(parseProbe(stdout), INFO);
  assert.equal(parseProbe("Python 2.7\n"), undefined);
  assert.equal(parseProbe("ttcc-probe:{not json\n"), undefined);
  assert.equal(parseProbe(probeOutput({ executable: "/p", version: [3, "x", 1] })), undefined);
});

test("the probe script runs in a real Python", async (t) => {
  const result = await runProcess("python3", ["-c", PROBE_SCRIPT], { timeoutMs: 30_000 });
  if (result.error?.code === "ENOENT") {
    t.skip("no python3 on PATH");
    return;
  }
  const info = parseProbe(result.stdout);
  assert.ok(info, result.stdout + result.stderr);
  assert.equal(info.implementation, "cpython");
  assert.equal(info.version[0], 3);
});

test("judgeBase: not found, broken, too old, not CPython, no venv, fine", () => {
  const ran = (data: object) => ({ kind: "ran" as const, code: 0, stdout: probeOutput(data), stderr: "" });
  assert.deepEqual(judgeBase(PATH_PYTHON, { kind: "notFound" }), {
    ok: false,
    problem: { kind: "notFound", candidate: PATH_PYTHON },
  });
  const stderr = "x\nSyntaxError: invalid syntax\n";
  const broken = judgeBase(PATH_PYTHON, { kind: "ran", code: 1, stdout: "", stderr });
  assert.deepEqual(broken, {
    ok: false,
    problem: { kind: "broken", candidate: PATH_PYTHON, detail: "SyntaxError: invalid syntax" },
  });
  const kind = (data: object) => {
    const judged = judgeBase(PATH_PYTHON, ran(data));
    return judged.ok ? "ok" : judged.problem.kind;
  };
  assert.equal(kind({ ...INFO, version: [3, 10, 12] }), "tooOld");
  assert.equal(kind({ ...INFO, version: [2, 7, 18] }), "tooOld");
  assert.equal(kind({ ...INFO, implementation: "pypy" }), "notCPython");
  assert.equal(kind({ ...INFO, venv: false }), "noVenv");
  assert.equal(kind({ ...INFO, version: [3, 14, 0] }), "ok");
  assert.equal(kind({ ...INFO, version: [4, 0, 0] }), "ok");
  assert.deepEqual(judgeBase(PATH_PYTHON, ran(INFO)), { ok: true, candidate: PATH_PYTHON, info: INFO });
});

test("the stamp: same extension version and basePython setting", () => {
  const stamp = makeStamp("0.1.0", "", INFO, new Date("2025-01-02T03:04:05Z"));
  assert.deepEqual(stamp, {
    extensionVersion: "0.1.0",
    basePythonSetting: "",
    basePython: "/usr/bin/python3",
    pythonVersion: "3.11.2",
    created: "2025-01-02T03:04:05.000Z",
  });
  assert.deepEqual(parseStamp(JSON.stringify(stamp)), stamp);
  assert.equal(parseStamp("{"), undefined);
  assert.equal(parseStamp(JSON.stringify({ ...stamp, pythonVersion: 3 })), undefined);
  assert.equal(stampMatches(stamp, "0.1.0", ""), true);
  assert.equal(stampMatches(stamp, "0.2.0", ""), false, "an extension update rebuilds");
  assert.equal(stampMatches(stamp, "0.1.0", "/usr/bin/python3.12"), false, "a new basePython rebuilds");
  assert.equal(stampMatches(undefined, "0.1.0", ""), false);
});

test("healthy: ttcc found, by the Python of the same minor version", () => {
  const stamp: Stamp = { ...makeStamp("0.1.0", "", INFO, new Date(0)) };
  assert.equal(healthy(stamp, 0, "3.11.9 True\n"), true);
  assert.equal(healthy(stamp, 0, "3.12.1 True\n"), false);
  assert.equal(healthy(stamp, 0, "3.11.2 False\n"), false);
  assert.equal(healthy(stamp, 1, "3.11.2 True\n"), false);
  assert.equal(healthy(stamp, null, ""), false);
});

test("findWheels needs pip's and ttcc's wheels", () => {
  const names = ["attrs-1-py3-none-any.whl", "pip-26.3-py3-none-any.whl", "ttcc-0.1.0-cp311-abi3-manylinux.whl"];
  assert.deepEqual(findWheels("/ext/wheels", names), {
    dir: "/ext/wheels",
    pip: "/ext/wheels/pip-26.3-py3-none-any.whl",
    ttcc: "/ext/wheels/ttcc-0.1.0-cp311-abi3-manylinux.whl",
  });
  assert.equal(findWheels("/w", names.slice(0, 2)), undefined);
  assert.equal(findWheels("/w", [names[0], names[2]]), undefined);
  assert.equal(findWheels("/w", []), undefined);
});

test("pip runs from its wheel on the bundled wheels only: no index, no configuration, no cache", () => {
  const wheels = findWheels("/ext/wheels", ["pip-26.3-py3-none-any.whl", "ttcc-0.1.0-cp311-abi3-x.whl"])!;
  const args = pipInstallArgs(wheels);
  assert.deepEqual(args.slice(0, 3), ["-I", "/ext/wheels/pip-26.3-py3-none-any.whl/pip", "install"]);
  for (const flag of ["--isolated", "--no-index", "--no-cache-dir", "--disable-pip-version-check"]) {
    assert.ok(args.includes(flag), flag);
  }
  assert.equal(args[args.indexOf("--find-links") + 1], "/ext/wheels");
  assert.equal(args[args.indexOf("--only-binary") + 1], ":all:");
  assert.ok(!args.some((a) => a.includes("index-url")));
  assert.equal(args[args.length - 1], "ttcc");
});

test("pip's environment has no PIP_* or PYTHON* variable but a null configuration file", () => {
  const env = pipEnvironment({
    PATH: "/usr/bin",
    HOME: "/home/u",
    PIP_FIND_LINKS: "/opt/wheels",
    PIP_INDEX_URL: "https://pypi.org/simple",
    pip_extra_index_url: "file:///x",
    PIP_CONFIG_FILE: "/etc/pip.conf",
    PYTHONPATH: "/elsewhere",
    PYTHONHOME: "/x",
  });
  assert.deepEqual(env, {
    PATH: "/usr/bin",
    HOME: "/home/u",
    PIP_CONFIG_FILE: os.devNull,
    PYTHONNOUSERSITE: "1",
  });
});

test("the environment is made without pip (Debian's python3 lacks ensurepip without python3-venv)", () => {
  const args = venvArgs("/s/python.staging");
  assert.deepEqual(args, ["-m", "venv", "--without-pip", "--prompt", "ttcc", "/s/python.staging"]);
});

test("target names as vsce's", () => {
  assert.equal(target("linux", "x64"), "linux-x64");
  assert.equal(target("darwin", "arm64"), "darwin-arm64");
});

test("each failure says what to do", () => {
  const noVenv = failureMessage({
    kind: "noPython",
    problems: [{ kind: "noVenv", candidate: PATH_PYTHON, info: { ...INFO, venv: false } }],
  });
  assert.match(noVenv.message, /python3 on PATH: \/usr\/bin\/python3 \(Python 3\.11\.2\) has no venv module/);
  assert.match(noVenv.message, /sudo apt install python3-venv/);
  assert.match(noVenv.message, /ttcc\.server\.basePython/);
  assert.deepEqual(noVenv.actions, ["Open Settings", "Show Log", "Retry"]);

  const old = failureMessage({
    kind: "noPython",
    problems: [
      {
        kind: "tooOld",
        candidate: { command: "/usr/bin/python3.10", source: "pythonExtension" },
        info: { ...INFO, executable: "/usr/bin/python3.10", version: [3, 10, 12] },
      },
      { kind: "notFound", candidate: PATH_PYTHON },
    ],
  });
  assert.match(old.message, /the Python extension's interpreter \(\/usr\/bin\/python3\.10\): .* is Python 3\.10\.12/);
  assert.match(old.message, /python3 on PATH: not found/);
  assert.match(old.message, /Install Python 3\.11 or newer/);
  assert.doesNotMatch(old.message, /apt install/);

  const storage = failureMessage({ kind: "storage", dir: "/ro/ttcc.ttcc", code: "EROFS" });
  assert.match(storage.message, /\/ro\/ttcc\.ttcc \(EROFS\)/);
  assert.match(storage.message, /writable.*ttcc\.server\.pythonPath/);

  assert.match(failureMessage({ kind: "noWheels", extensionPath: "/e" }).message, /no Python wheels.*pythonPath/);
  assert.match(failureMessage({ kind: "platform", target: "darwin-arm64" }).message, /linux-x64, not darwin-arm64/);
  assert.match(failureMessage({ kind: "install", detail: "pip exited with 1" }).message, /pip exited with 1.*Show Log/);
  const venv = failureMessage({ kind: "venv", python: "/p", detail: "ensurepip is not available" });
  assert.match(venv.message, /python3-venv/);
  assert.doesNotMatch(failureMessage({ kind: "venv", python: "/p", detail: "disk on fire" }).message, /apt/);
  for (const message of [noVenv, old, storage]) {
    assert.ok(message.message.length < 1000, "VS Code cuts longer notifications");
  }
});
