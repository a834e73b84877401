// The rules of the extension's own Python environment, without an editor and without
// touching the disk: which Python creates it, what the version probe says, when an
// existing environment is still good (its stamp), how pip runs (bundled wheels only),
// and what each failure tells the user. pythonSetup.ts does the work with these.

import * as os from "node:os";
import * as path from "node:path";

/** The wheel is cp311-abi3 and the wheelhouse has cffi for CPython 3.11 to 3.14. */
export const MIN_PYTHON: readonly [number, number] = [3, 11];

/** Under the extension's global storage folder. */
export const ENV_DIR = "python";
export const STAGING_DIR = "python.staging";
export const OLD_DIR = "python.old";
export const LOCK_DIR = "python.lock";
/** Inside the environment, written once pip has succeeded. */
export const STAMP_FILE = "ttcc-environment.json";

// ------------------------------------------------------------------ the base Python

export type Source = "setting" | "pythonExtension" | "path";

export interface Candidate {
  command: string;
  source: Source;
}

/** Who creates the environment: ttcc.server.basePython when set (nothing else then),
 *  else the Python extension's interpreter when there is one, then `python3` on PATH. */
export function baseCandidates(setting: string, pythonExtension: string | undefined): Candidate[] {
  if (setting) {
    return [{ command: setting, source: "setting" }];
  }
  const candidates: Candidate[] = [];
  if (pythonExtension) {
    candidates.push({ command: pythonExtension, source: "pythonExtension" });
  }
  if (candidates.every((c) => c.command !== "python3")) {
    candidates.push({ command: "python3", source: "path" });
  }
  return candidates;
}

export function describeSource(candidate: Candidate): string {
  switch (candidate.source) {
    case "setting":
      return `ttcc.server.basePython (${candidate.command})`;
    case "pythonExtension":
      return `the Python extension's interpreter (${candidate.command})`;
    case "path":
      return `${candidate.command} on PATH`;
  }
}

const PROBE_MARK = "ttcc-probe:";

/** Run as `<python> -c PROBE_SCRIPT`: one marked JSON line, whatever Python it is. */
export const PROBE_SCRIPT = [
  "import sys, json",
  "try:",
  "    import venv",
  "    has_venv = True",
  "except Exception:",
  "    has_venv = False",
  "impl = getattr(getattr(sys, 'implementation', None), 'name', 'unknown')",
  `print('${PROBE_MARK}' + json.dumps({'executable': sys.executable, 'version': list(sys.version_info[:3]),` +
    " 'implementation': impl, 'venv': has_venv}))",
].join("\n");

export interface ProbeInfo {
  executable: string;
  version: [number, number, number];
  implementation: string;
  venv: boolean;
}

/** The probe's report in a Python's stdout (which a sitecustomize may have added to). */
export function parseProbe(stdout: string): ProbeInfo | undefined {
  const line = stdout
    .split(/\r?\n/)
    .reverse()
    .find((l) => l.startsWith(PROBE_MARK));
  if (line === undefined) {
    return undefined;
  }
  try {
    const data = JSON.parse(line.slice(PROBE_MARK.length));
    const version = data.version;
    if (
      typeof data.executable !== "string" ||
      !Array.isArray(version) ||
      version.length !== 3 ||
      !version.every((n: unknown) => Number.isInteger(n))
    ) {
      return undefined;
    }
    return {
      executable: data.executable,
      version: [version[0], version[1], version[2]],
      implementation: String(data.implementation),
      venv: data.venv === true,
    };
  } catch {
    return undefined;
  }
}

export function versionText(version: readonly number[]): string {
  return version.join(".");
}

/** What running the probe gave. */
export type ProbeOutcome =
  | { kind: "ran"; code: number | null; stdout: string; stderr: string }
  | { kind: "notFound" }
  | { kind: "error"; detail: string };

export type Problem =
  | { kind: "notFound"; candidate: Candidate }
  | { kind: "broken"; candidate: Candidate; detail: string }
  | { kind: "tooOld"; candidate: Candidate; info: ProbeInfo }
  | { kind: "notCPython"; candidate: Candidate; info: ProbeInfo }
  | { kind: "noVenv"; candidate: Candidate; info: ProbeInfo };

export type Judgement = { ok: true; candidate: Candidate; info: ProbeInfo } | { ok: false; problem: Problem };

/** Whether a probed Python can create ttcc's environment. */
export function judgeBase(candidate: Candidate, outcome: ProbeOutcome): Judgement {
  if (outcome.kind === "notFound") {
    return { ok: false, problem: { kind: "notFound", candidate } };
  }
  if (outcome.kind === "error") {
    return { ok: false, problem: { kind: "broken", candidate, detail: outcome.detail } };
  }
  const info = parseProbe(outcome.stdout);
  if (info === undefined) {
    const detail = lastLine(outcome.stderr) || `exit code ${outcome.code}`;
    return { ok: false, problem: { kind: "broken", candidate, detail } };
  }
  if (info.implementation !== "cpython") {
    return { ok: false, problem: { kind: "notCPython", candidate, info } };
  }
  if (info.version[0] < MIN_PYTHON[0] || (info.version[0] === MIN_PYTHON[0] && info.version[1] < MIN_PYTHON[1])) {
    return { ok: false, problem: { kind: "tooOld", candidate, info } };
  }
  if (!info.venv) {
    return { ok: false, problem: { kind: "noVenv", candidate, info } };
  }
  return { ok: true, candidate, info };
}

export function lastLine(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.length ? lines[lines.length - 1] : "";
}

// ------------------------------------------------------------------ the stamp

export interface Stamp {
  /** The extension version whose wheels are installed. */
  extensionVersion: string;
  /** ttcc.server.basePython when the environment was made ("" = chosen automatically). */
  basePythonSetting: string;
  /** The Python that made it (sys.executable) and its version. */
  basePython: string;
  pythonVersion: string;
  created: string;
}

export function makeStamp(extensionVersion: string, basePythonSetting: string, info: ProbeInfo, now: Date): Stamp {
  return {
    extensionVersion,
    basePythonSetting,
    basePython: info.executable,
    pythonVersion: versionText(info.version),
    created: now.toISOString(),
  };
}

export function parseStamp(text: string): Stamp | undefined {
  try {
    const data = JSON.parse(text);
    const keys = ["extensionVersion", "basePythonSetting", "basePython", "pythonVersion", "created"];
    return keys.every((k) => typeof data?.[k] === "string") ? (data as Stamp) : undefined;
  } catch {
    return undefined;
  }
}

/** An existing environment serves when this extension version filled it and it was made
 *  as ttcc.server.basePython now asks: with that Python when the setting names one; with
 *  any suitable Python when it is empty (so windows whose Python extension picks different
 *  interpreters share one environment instead of rebuilding it in turn). An update of the
 *  extension, or a changed setting, rebuilds it. */
export function stampMatches(stamp: Stamp | undefined, extensionVersion: string, basePythonSetting: string): boolean {
  return (
    stamp !== undefined && stamp.extensionVersion === extensionVersion && stamp.basePythonSetting === basePythonSetting
  );
}

/** Run with the environment's python as `-I -c HEALTH_SCRIPT`: its version and whether ttcc is there. */
export const HEALTH_SCRIPT =
  "import sys, importlib.util; " +
  "print('%d.%d.%d' % sys.version_info[:3], importlib.util.find_spec('ttcc') is not None)";

/** The environment still runs the Python the stamp names (same minor version: an upgraded
 *  base Python leaves its site-packages behind) and has ttcc. */
export function healthy(stamp: Stamp, code: number | null, stdout: string): boolean {
  const [version, found] = lastLine(stdout).split(" ");
  const minor = (v: string) => v.split(".").slice(0, 2).join(".");
  return code === 0 && found === "True" && minor(version ?? "") === minor(stamp.pythonVersion);
}

// ------------------------------------------------------------------ paths and pip

export function envPython(envDir: string, platform: NodeJS.Platform = process.platform): string {
  return platform === "win32" ? path.join(envDir, "Scripts", "python.exe") : path.join(envDir, "bin", "python");
}

export interface Wheels {
  dir: string;
  pip: string;
  ttcc: string;
}

/** The bundled wheelhouse from the names in the extension's wheels/ folder; undefined
 *  unless it has both pip's and ttcc's wheel. */
export function findWheels(dir: string, names: string[]): Wheels | undefined {
  const newest = (prefix: string) =>
    names
      .filter((n) => n.startsWith(prefix) && n.endsWith(".whl"))
      .sort()
      .pop();
  const pip = newest("pip-");
  const ttcc = newest("ttcc-");
  return pip && ttcc ? { dir, pip: path.join(dir, pip), ttcc: path.join(dir, ttcc) } : undefined;
}

/** The packaged wheels are built for these VS Code targets (`vsce package --target`). */
export const SUPPORTED_TARGETS = ["linux-x64"];

export function target(platform: string, arch: string): string {
  return `${platform === "win32" ? "win32" : platform}-${arch}`;
}

/** `<env python> -I <pip wheel>/pip install …`: pip run from its own wheel (the environment
 *  has no pip), from the bundled wheels only, with no index, cache or configuration. */
export function pipInstallArgs(wheels: Wheels): string[] {
  return [
    "-I",
    path.join(wheels.pip, "pip"),
    "install",
    "--isolated",
    "--no-index",
    "--find-links",
    wheels.dir,
    "--only-binary",
    ":all:",
    "--no-cache-dir",
    "--disable-pip-version-check",
    "--no-input",
    "--progress-bar",
    "off",
    "ttcc",
  ];
}

/** The environment pip runs in: the editor's, less every PIP_* and PYTHON* variable (a
 *  PIP_INDEX_URL or PIP_FIND_LINKS must not reach it, nor a PYTHONPATH whose packages
 *  pip would count as installed), and a configuration file that is no file. */
export function pipEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) {
    const upper = key.toUpperCase();
    if (!upper.startsWith("PIP_") && !upper.startsWith("PYTHON")) {
      clean[key] = value;
    }
  }
  clean.PIP_CONFIG_FILE = os.devNull;
  clean.PYTHONNOUSERSITE = "1";
  return clean;
}

export function venvArgs(dir: string): string[] {
  // --without-pip: the environment needs no pip (the bundled one installs into it), and
  // so Debian's python3 without python3-venv (which lacks only ensurepip) can make it.
  return ["-m", "venv", "--without-pip", "--prompt", "ttcc", dir];
}

// ------------------------------------------------------------------ failures

export type Failure =
  | { kind: "noWheels"; extensionPath: string }
  | { kind: "platform"; target: string }
  | { kind: "noPython"; problems: Problem[] }
  | { kind: "storage"; dir: string; code: string }
  | { kind: "venv"; python: string; detail: string }
  | { kind: "install"; detail: string }
  | { kind: "broken"; python: string; detail: string };

export class SetupError extends Error {
  constructor(readonly failure: Failure) {
    super(failureMessage(failure).message);
    this.name = "SetupError";
  }
}

export type Action = "Open Settings" | "Show Log" | "Retry";

export interface Message {
  message: string;
  actions: Action[];
}

const DEBIAN_VENV = "on Debian/Ubuntu: sudo apt install python3-venv";
const OR_SETTINGS =
  "or set ttcc.server.basePython to a Python 3.11 or newer, " +
  "or ttcc.server.pythonPath to a Python that has ttcc installed";
const MIN_TEXT = `${MIN_PYTHON.join(".")} or newer`;

export function describeProblem(problem: Problem): string {
  const where = describeSource(problem.candidate);
  switch (problem.kind) {
    case "notFound":
      return `${where}: not found`;
    case "broken":
      return `${where}: did not run (${problem.detail})`;
    case "tooOld":
      return `${where}: ${problem.info.executable} is Python ${versionText(problem.info.version)}, needs ${MIN_TEXT}`;
    case "notCPython":
      return `${where}: ${problem.info.executable} is ${problem.info.implementation}, ttcc needs CPython`;
    case "noVenv":
      return `${where}: ${problem.info.executable} (Python ${versionText(problem.info.version)}) has no venv module`;
  }
}

/** What to tell the user, and the buttons. */
export function failureMessage(failure: Failure): Message {
  const all: Action[] = ["Open Settings", "Show Log", "Retry"];
  switch (failure.kind) {
    case "noWheels":
      return {
        message:
          "ttcc: this copy of the extension carries no Python wheels, so it cannot set up its own Python " +
          "(the linux-x64 .vsix has them). Set ttcc.server.pythonPath to a Python that has ttcc installed.",
        actions: ["Open Settings", "Show Log"],
      };
    case "platform":
      return {
        message:
          `ttcc: its bundled Python wheels are for ${SUPPORTED_TARGETS.join(", ")}, not ${failure.target}. ` +
          "Set ttcc.server.pythonPath to a Python that has ttcc installed (pip install ttcc).",
        actions: ["Open Settings", "Show Log"],
      };
    case "noPython": {
      const kinds = new Set(failure.problems.map((p) => p.kind));
      let todo: string;
      if (kinds.has("noVenv")) {
        todo = `Install Python's venv module (${DEBIAN_VENV}), ${OR_SETTINGS}; then Retry.`;
      } else {
        todo = `Install Python ${MIN_TEXT}, ${OR_SETTINGS}; then Retry.`;
      }
      const found = failure.problems.map(describeProblem).join("; ");
      return {
        message:
          `ttcc needs Python ${MIN_TEXT} with its venv module to set up its environment. ` + `Found ${found}. ${todo}`,
        actions: all,
      };
    }
    case "storage":
      return {
        message:
          `ttcc cannot write its Python environment to ${failure.dir} (${failure.code}). ` +
          "Make that folder writable, or set ttcc.server.pythonPath to a Python that has ttcc installed; then Retry.",
        actions: all,
      };
    case "venv": {
      const hint = /ensurepip|venv/i.test(failure.detail) ? ` Install Python's venv module (${DEBIAN_VENV}), or` : "";
      return {
        message:
          `ttcc: creating its Python environment with ${failure.python} failed (${failure.detail}).${hint} ` +
          "Set ttcc.server.basePython to another Python 3.11 or newer; then Retry.",
        actions: all,
      };
    }
    case "install":
      return {
        message:
          `ttcc: installing ttcc from the extension's wheels failed (${failure.detail}); ` +
          "ttcc: Show Log has pip's output. " +
          "Retry, or set ttcc.server.pythonPath to a Python that has ttcc installed.",
        actions: all,
      };
    case "broken":
      return {
        message:
          `ttcc: its new Python environment does not work (${failure.python}: ${failure.detail}). ` +
          "Retry, or set ttcc.server.basePython to another Python 3.11 or newer.",
        actions: all,
      };
  }
}

/** File system errors that mean "this folder cannot be written", as a storage failure. */
export const STORAGE_CODES = ["EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT", "ENOTDIR"];
