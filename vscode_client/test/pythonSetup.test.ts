// ensureEnvironment on a real temporary folder, with a pretend Python: the runner below
// answers the probe, "makes" the environment and "installs" ttcc by writing files.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, test } from "node:test";

import { PROBE_SCRIPT, type ProbeInfo, SetupError, STAMP_FILE } from "../src/pythonEnv";
import { ensureEnvironment, type RunResult, type Runner, type SetupOptions } from "../src/pythonSetup";

const GOOD: ProbeInfo = { executable: "/usr/bin/python3", version: [3, 11, 2], implementation: "cpython", venv: true };

interface Call {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

interface Fake {
  options: SetupOptions;
  calls: Call[];
  steps: string[];
  storage: string;
}

const roots: string[] = [];
after(() => roots.forEach((root) => fs.rmSync(root, { recursive: true, force: true })));

const result = (code: number, stdout = "", stderr = ""): RunResult => ({ code, signal: null, stdout, stderr });

/** A Python world: `pythons` maps a command to its probe answer (absent: not found). */
function fake(
  pythons: Record<string, ProbeInfo>,
  overrides: Partial<SetupOptions> & { pipFails?: boolean } = {},
): Fake {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "ttcc-setup-"));
  roots.push(root);
  const extensionPath = path.join(root, "ext");
  fs.mkdirSync(path.join(extensionPath, "wheels"), { recursive: true });
  for (const name of ["pip-26.3-py3-none-any.whl", "ttcc-0.1.0-cp311-abi3-manylinux_2_17_x86_64.whl"]) {
    fs.writeFileSync(path.join(extensionPath, "wheels", name), "");
  }
  const storage = path.join(root, "globalStorage", "ttcc.ttcc");
  const calls: Call[] = [];
  const steps: string[] = [];
  const envOf = (python: string) => path.dirname(path.dirname(python));
  const run: Runner = async (command, args, options) => {
    calls.push({ command, args, env: options.env });
    if (args[0] === "-c" && args[1] === PROBE_SCRIPT) {
      const info = pythons[command];
      if (!info) {
        return { ...result(-2), error: Object.assign(new Error(`spawn ${command} ENOENT`), { code: "ENOENT" }) };
      }
      return result(0, `ttcc-probe:${JSON.stringify(info)}\n`);
    }
    if (args[1] === "venv") {
      const dir = args[args.length - 1];
      fs.mkdirSync(path.join(dir, "bin"), { recursive: true });
      fs.writeFileSync(path.join(dir, "bin", "python"), JSON.stringify(pythons[command] ?? GOOD));
      return result(0);
    }
    if (args.includes("install")) {
      if (overrides.pipFails) {
        return result(1, "Looking in links: …\n", "ERROR: No matching distribution found for ttcc\n");
      }
      fs.writeFileSync(path.join(envOf(command), "ttcc-installed"), "");
      return result(0, "Successfully installed ttcc-0.1.0\n");
    }
    if (args[0] === "-I" && args[1] === "-c") {
      if (!fs.existsSync(command)) {
        return { ...result(-2), error: Object.assign(new Error(`spawn ${command} ENOENT`), { code: "ENOENT" }) };
      }
      const info: ProbeInfo = JSON.parse(fs.readFileSync(command, "utf8"));
      const installed = fs.existsSync(path.join(envOf(command), "ttcc-installed"));
      return result(0, `${info.version.join(".")} ${installed ? "True" : "False"}\n`);
    }
    throw new Error(`unexpected: ${command} ${args.join(" ")}`);
  };
  const silent = () => undefined;
  const options: SetupOptions = {
    storageDir: storage,
    extensionPath,
    extensionVersion: "0.1.0",
    basePython: "",
    pythonExtension: async () => undefined,
    withProgress: (task) => task((message) => steps.push(message)),
    log: { info: silent, warn: silent, error: silent },
    run,
    platform: "linux",
    arch: "x64",
    ...overrides,
  };
  return { options, calls, steps, storage };
}

async function failure(promise: Promise<unknown>): Promise<SetupError["failure"]> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SetupError, String(error));
    return error.failure;
  }
  assert.fail("no failure");
}

const leftovers = (storage: string) => fs.readdirSync(storage).sort();

test("the first activation builds the environment in staging, stamps it, and renames it", async () => {
  const world = fake({ python3: GOOD });
  const ready = await ensureEnvironment(world.options);
  assert.equal(ready.built, true);
  assert.equal(ready.python, path.join(world.storage, "python", "bin", "python"));
  assert.deepEqual(leftovers(world.storage), ["python"]);
  const stamp = JSON.parse(fs.readFileSync(path.join(world.storage, "python", STAMP_FILE), "utf8"));
  assert.equal(stamp.extensionVersion, "0.1.0");
  assert.equal(stamp.basePython, "/usr/bin/python3");
  assert.equal(stamp.pythonVersion, "3.11.2");
  assert.deepEqual(world.steps, [
    "finding Python",
    "creating the environment with /usr/bin/python3 (3.11.2)",
    "installing ttcc and its dependencies from the extension (no network)",
  ]);
  const [probe, venv, pip, health] = world.calls;
  assert.equal(probe.command, "python3");
  assert.equal(venv.command, "python3", "the probed command makes it");
  assert.deepEqual(venv.args.slice(0, 3), ["-m", "venv", "--without-pip"]);
  assert.equal(venv.args[venv.args.length - 1], path.join(world.storage, "python.staging"));
  assert.equal(pip.command, path.join(world.storage, "python.staging", "bin", "python"));
  assert.ok(pip.args.includes("--no-index"));
  assert.equal(pip.env?.PIP_CONFIG_FILE, os.devNull);
  assert.deepEqual(Object.keys(pip.env ?? {}).filter((k) => k.startsWith("PIP_")), ["PIP_CONFIG_FILE"]);
  assert.deepEqual(health.args.slice(0, 2), ["-I", "-c"]);
});

test("the next activation uses it without asking any Python but the environment's", async () => {
  const world = fake({ python3: GOOD });
  await ensureEnvironment(world.options);
  world.calls.length = 0;
  world.steps.length = 0;
  const ready = await ensureEnvironment(world.options);
  assert.equal(ready.built, false);
  assert.deepEqual(world.calls.map((c) => c.command), [ready.python]);
  assert.deepEqual(world.steps, [], "no progress notification");
});

test("an extension update, or a new basePython, rebuilds it", async () => {
  const world = fake({ python3: GOOD, "/opt/py312": { ...GOOD, executable: "/opt/py312", version: [3, 12, 1] } });
  await ensureEnvironment(world.options);
  const updated = await ensureEnvironment({ ...world.options, extensionVersion: "0.2.0" });
  assert.equal(updated.built, true);
  assert.equal(updated.stamp.extensionVersion, "0.2.0");
  const other = await ensureEnvironment({ ...world.options, extensionVersion: "0.2.0", basePython: "/opt/py312" });
  assert.equal(other.built, true);
  assert.equal(other.stamp.pythonVersion, "3.12.1");
  assert.deepEqual(leftovers(world.storage), ["python"]);
});

test("Reinstall rebuilds a good environment", async () => {
  const world = fake({ python3: GOOD });
  await ensureEnvironment(world.options);
  assert.equal((await ensureEnvironment({ ...world.options, force: true })).built, true);
});

test("an environment whose Python went away is rebuilt", async () => {
  const world = fake({ python3: GOOD });
  const first = await ensureEnvironment(world.options);
  fs.rmSync(first.python);
  assert.equal((await ensureEnvironment(world.options)).built, true);
});

test("an interrupted install (staging and a dead process's lock left) is cleaned up and redone", async () => {
  const world = fake({ python3: GOOD });
  const staging = path.join(world.storage, "python.staging");
  fs.mkdirSync(path.join(staging, "bin"), { recursive: true });
  fs.writeFileSync(path.join(staging, "half-installed"), "");
  fs.mkdirSync(path.join(world.storage, "python.lock"));
  fs.writeFileSync(path.join(world.storage, "python.lock", "owner"), JSON.stringify({ pid: 2 ** 22 + 1 }));
  const ready = await ensureEnvironment(world.options);
  assert.equal(ready.built, true);
  assert.deepEqual(leftovers(world.storage), ["python"]);
  assert.ok(!fs.existsSync(path.join(world.storage, "python", "half-installed")));
});

test("a failed install keeps the previous environment's folder whole and leaves no lock", async () => {
  const world = fake({ python3: GOOD });
  await ensureEnvironment(world.options);
  const broken = fake({ python3: GOOD }, { pipFails: true });
  const options = { ...broken.options, storageDir: world.storage, extensionVersion: "0.2.0" };
  const failed = await failure(ensureEnvironment(options));
  assert.deepEqual(failed, { kind: "install", detail: "ERROR: No matching distribution found for ttcc" });
  assert.ok(fs.existsSync(path.join(world.storage, "python", STAMP_FILE)));
  assert.ok(!fs.existsSync(path.join(world.storage, "python.lock")));
  // The next activation (pip working again) recovers.
  const again = fake({ python3: GOOD });
  const recovered = await ensureEnvironment({ ...again.options, storageDir: world.storage, extensionVersion: "0.2.0" });
  assert.equal(recovered.built, true);
  assert.deepEqual(leftovers(world.storage), ["python"]);
});

test("another window's build is waited for, then used", async () => {
  const world = fake({ python3: GOOD });
  fs.mkdirSync(path.join(world.storage, "python.lock"), { recursive: true });
  fs.writeFileSync(path.join(world.storage, "python.lock", "owner"), JSON.stringify({ pid: process.pid }));
  const other = fake({ python3: GOOD });
  setTimeout(() => {
    // The other window finishes: its environment appears and its lock goes.
    void ensureEnvironment({ ...other.options, storageDir: path.join(other.storage, "x") }).then(() => {
      fs.cpSync(path.join(other.storage, "x", "python"), path.join(world.storage, "python"), { recursive: true });
      fs.rmSync(path.join(world.storage, "python.lock"), { recursive: true });
    });
  }, 300);
  const ready = await ensureEnvironment(world.options);
  assert.equal(ready.built, false);
  assert.ok(world.steps.includes("waiting for another window that is setting up the environment"));
});

test("the Python extension's interpreter comes first; a too old one falls back to python3", async () => {
  const chosen = fake(
    { python3: GOOD, "/venv/bin/python": { ...GOOD, executable: "/venv/bin/python" } },
    { pythonExtension: async () => "/venv/bin/python" },
  );
  assert.equal((await ensureEnvironment(chosen.options)).stamp.basePython, "/venv/bin/python");
  const old = fake(
    { python3: GOOD, "/old/python": { ...GOOD, executable: "/old/python", version: [3, 9, 2] } },
    { pythonExtension: async () => "/old/python" },
  );
  assert.equal((await ensureEnvironment(old.options)).stamp.basePython, "/usr/bin/python3");
  const throwing = fake({ python3: GOOD }, { pythonExtension: async () => Promise.reject(new Error("no API")) });
  assert.equal((await ensureEnvironment(throwing.options)).stamp.basePython, "/usr/bin/python3");
});

test("no Python, or one without venv: a failure naming each, and nothing built", async () => {
  const none = fake({});
  const failed = await failure(ensureEnvironment(none.options));
  assert.equal(failed.kind, "noPython");
  assert.deepEqual(failed.kind === "noPython" && failed.problems.map((p) => p.kind), ["notFound"]);
  assert.deepEqual(leftovers(none.storage), []);

  const noVenv = fake({ python3: { ...GOOD, venv: false } });
  const judged = await failure(ensureEnvironment(noVenv.options));
  assert.deepEqual(judged.kind === "noPython" && judged.problems.map((p) => p.kind), ["noVenv"]);
  assert.ok(!noVenv.calls.some((c) => c.args.includes("venv")));
});

test("a basePython setting is the only candidate", async () => {
  const world = fake({ python3: GOOD }, { basePython: "/nowhere/python" });
  const failed = await failure(ensureEnvironment(world.options));
  assert.deepEqual(failed.kind === "noPython" && failed.problems, [
    { kind: "notFound", candidate: { command: "/nowhere/python", source: "setting" } },
  ]);
});

test("storage that cannot be written is a storage failure naming the folder", async () => {
  const world = fake({ python3: GOOD });
  fs.mkdirSync(path.dirname(world.storage), { recursive: true });
  fs.writeFileSync(world.storage, "a file where the folder should be");
  const storageDir = path.join(world.storage, "ttcc.ttcc");
  const failed = await failure(ensureEnvironment({ ...world.options, storageDir }));
  assert.deepEqual(failed, { kind: "storage", dir: storageDir, code: "ENOTDIR" });
});

test("no wheels, or another platform: say so before trying", async () => {
  const world = fake({ python3: GOOD });
  fs.rmSync(path.join(world.options.extensionPath, "wheels"), { recursive: true });
  assert.equal((await failure(ensureEnvironment(world.options))).kind, "noWheels");
  const mac = fake({ python3: GOOD }, { platform: "darwin", arch: "arm64" });
  assert.deepEqual(await failure(ensureEnvironment(mac.options)), { kind: "platform", target: "darwin-arm64" });
  assert.deepEqual(mac.calls, []);
});
