// Makes and keeps the extension's own Python environment in its global storage folder
// (no editor here: environment.ts passes in the settings, the progress display and the
// Python extension's interpreter). The environment is built in python.staging and renamed
// to python once its stamp is written, under a lock that other windows wait on; so an
// interrupted build leaves only a staging folder (or a stale lock), which the next
// activation removes before it builds again.

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline";

import {
  baseCandidates,
  type Candidate,
  ENV_DIR,
  envPython,
  findWheels,
  HEALTH_SCRIPT,
  healthy,
  judgeBase,
  lastLine,
  LOCK_DIR,
  makeStamp,
  OLD_DIR,
  parseStamp,
  pipEnvironment,
  pipInstallArgs,
  PROBE_SCRIPT,
  type ProbeInfo,
  type ProbeOutcome,
  type Problem,
  SetupError,
  STAGING_DIR,
  STAMP_FILE,
  type Stamp,
  stampMatches,
  STORAGE_CODES,
  SUPPORTED_TARGETS,
  target,
  venvArgs,
  versionText,
  type Wheels,
} from "./pythonEnv";

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The spawn failed (ENOENT: no such program), or the time limit killed it. */
  error?: NodeJS.ErrnoException;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs: number;
  /** Each line of output as it comes. */
  onLine?: (line: string) => void;
}

export type Runner = (command: string, args: string[], options: RunOptions) => Promise<RunResult>;

export const runProcess: Runner = (command, args, options) =>
  new Promise((resolve) => {
    let stdout = "";
    let stderr = "";
    let error: NodeJS.ErrnoException | undefined;
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: "pipe" });
    child.stdin.end();
    const timer = setTimeout(() => {
      error = Object.assign(new Error(`no answer within ${options.timeoutMs / 1000} s`), { code: "ETIMEDOUT" });
      child.kill("SIGKILL");
    }, options.timeoutMs);
    const collect = (stream: NodeJS.ReadableStream, add: (line: string) => void) =>
      readline.createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
        add(line + "\n");
        options.onLine?.(line);
      });
    collect(child.stdout, (l) => (stdout += l));
    collect(child.stderr, (l) => (stderr += l));
    child.on("error", (e) => {
      error = e;
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, error });
    });
  });

/** Why a run failed, in a few words. */
function why(result: RunResult): string {
  return (
    result.error?.message ??
    (lastLine(result.stderr) || lastLine(result.stdout) || `exit code ${result.code ?? result.signal}`)
  );
}

export interface Log {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Shows the steps of a build (a progress notification); the task reports through `step`. */
export type WithProgress = <T>(task: (step: (message: string) => void) => Promise<T>) => Promise<T>;

export interface SetupOptions {
  storageDir: string;
  extensionPath: string;
  extensionVersion: string;
  /** ttcc.server.basePython, home-expanded; "" picks one. */
  basePython: string;
  /** The Python extension's interpreter, asked only when an environment is to be built. */
  pythonExtension: () => Promise<string | undefined>;
  withProgress: WithProgress;
  log: Log;
  /** Rebuild even when the environment is good (ttcc: Reinstall Python Environment). */
  force?: boolean;
  run?: Runner;
  platform?: string;
  arch?: string;
  /** How long to wait for another window's build. */
  lockWaitMs?: number;
  now?: () => Date;
}

export interface Ready {
  python: string;
  envDir: string;
  stamp: Stamp;
  built: boolean;
}

const PROBE_MS = 30_000;
const VENV_MS = 120_000;
const PIP_MS = 600_000;
const LOCK_STALE_MS = 15 * 60_000;

/** The environment's python, building the environment first unless a good one is there.
 *  Throws SetupError (failureMessage says what to do). */
export async function ensureEnvironment(options: SetupOptions): Promise<Ready> {
  const run = options.run ?? runProcess;
  const envDir = path.join(options.storageDir, ENV_DIR);
  if (!options.force) {
    const ready = await existing(envDir, options, run);
    if (ready) {
      return ready;
    }
  }
  const here = target(options.platform ?? process.platform, options.arch ?? process.arch);
  const wheels = bundledWheels(options.extensionPath);
  if (!wheels) {
    throw new SetupError({ kind: "noWheels", extensionPath: options.extensionPath });
  }
  if (!SUPPORTED_TARGETS.includes(here)) {
    throw new SetupError({ kind: "platform", target: here });
  }
  return options.withProgress(async (step) => {
    await storage(options.storageDir, () => fs.promises.mkdir(options.storageDir, { recursive: true }));
    const waited = await lock(options, step);
    try {
      if (!options.force || waited) {
        // Another window may have built it while this one waited.
        const ready = await existing(envDir, options, run);
        if (ready) {
          return ready;
        }
      }
      return await build(options, wheels, run, step);
    } finally {
      // Best effort: a lock left behind is broken by the next build (its process is gone).
      await fs.promises.rm(path.join(options.storageDir, LOCK_DIR), { recursive: true, force: true }).catch(() => {});
    }
  });
}

function bundledWheels(extensionPath: string): Wheels | undefined {
  const dir = path.join(extensionPath, "wheels");
  try {
    return findWheels(dir, fs.readdirSync(dir));
  } catch {
    return undefined;
  }
}

async function readStamp(envDir: string): Promise<Stamp | undefined> {
  try {
    return parseStamp(await fs.promises.readFile(path.join(envDir, STAMP_FILE), "utf8"));
  } catch {
    return undefined;
  }
}

/** The environment that is there, if its stamp matches and its python runs and has ttcc. */
async function existing(envDir: string, options: SetupOptions, run: Runner): Promise<Ready | undefined> {
  const stamp = await readStamp(envDir);
  if (!stampMatches(stamp, options.extensionVersion, options.basePython) || stamp === undefined) {
    if (stamp) {
      options.log.info(
        `the Python environment ${envDir} is from extension ${stamp.extensionVersion} ` +
          `(basePython "${stamp.basePythonSetting}"): rebuilding it`,
      );
    }
    return undefined;
  }
  const python = envPython(envDir);
  const check = await run(python, ["-I", "-c", HEALTH_SCRIPT], { timeoutMs: PROBE_MS });
  if (!healthy(stamp, check.code, check.stdout)) {
    options.log.warn(`the Python environment ${envDir} no longer works (${why(check)}): rebuilding it`);
    return undefined;
  }
  return { python, envDir, stamp, built: false };
}

/** Runs fn; a file system refusal becomes a storage failure naming dir. */
async function storage<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code && STORAGE_CODES.includes(code)) {
      throw new SetupError({ kind: "storage", dir, code });
    }
    throw error;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the build lock (a folder: mkdir is atomic), waiting while a live process holds
 *  it; one whose process is gone, or older than LOCK_STALE_MS, is broken. True if it waited. */
async function lock(options: SetupOptions, step: (message: string) => void): Promise<boolean> {
  const dir = path.join(options.storageDir, LOCK_DIR);
  const deadline = Date.now() + (options.lockWaitMs ?? LOCK_STALE_MS);
  let waited = false;
  for (;;) {
    try {
      await storage(options.storageDir, () => fs.promises.mkdir(dir));
      await storage(options.storageDir, () =>
        fs.promises.writeFile(path.join(dir, "owner"), JSON.stringify({ pid: process.pid })),
      );
      return waited;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw error;
      }
    }
    let pid: number | undefined;
    let age = 0;
    try {
      age = Date.now() - (await fs.promises.stat(dir)).mtimeMs;
      pid = JSON.parse(await fs.promises.readFile(path.join(dir, "owner"), "utf8")).pid;
    } catch {
      // just made, owner not written yet (or gone again): judge it by its age
    }
    const stale = (pid !== undefined && !alive(pid)) || age > LOCK_STALE_MS || Date.now() > deadline;
    if (stale) {
      options.log.warn(`removing a stale lock ${dir}${pid === undefined ? "" : ` (process ${pid})`}`);
      await fs.promises.rm(dir, { recursive: true, force: true });
      continue;
    }
    if (!waited) {
      step("waiting for another window that is setting up the environment");
      waited = true;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The first candidate that can make the environment; SetupError naming all tried if none. */
async function choosePython(options: SetupOptions, run: Runner): Promise<{ candidate: Candidate; info: ProbeInfo }> {
  let fromExtension: string | undefined;
  if (!options.basePython) {
    try {
      fromExtension = await options.pythonExtension();
    } catch (error) {
      options.log.warn(`the Python extension's interpreter: ${String(error)}`);
    }
  }
  const problems: Problem[] = [];
  for (const candidate of baseCandidates(options.basePython, fromExtension)) {
    // In the extension's folder: a venv.py in the current directory must not answer.
    const result = await run(candidate.command, ["-c", PROBE_SCRIPT], {
      cwd: options.extensionPath,
      timeoutMs: PROBE_MS,
    });
    const outcome: ProbeOutcome =
      result.error?.code === "ENOENT"
        ? { kind: "notFound" }
        : result.error
          ? { kind: "error", detail: result.error.message }
          : { kind: "ran", code: result.code, stdout: result.stdout, stderr: result.stderr };
    const judged = judgeBase(candidate, outcome);
    if (judged.ok) {
      return judged;
    }
    options.log.warn(`cannot make the environment with ${candidate.command}: ${judged.problem.kind}`);
    problems.push(judged.problem);
  }
  throw new SetupError({ kind: "noPython", problems });
}

async function build(options: SetupOptions, wheels: Wheels, run: Runner, step: (m: string) => void): Promise<Ready> {
  const { storageDir, log } = options;
  const envDir = path.join(storageDir, ENV_DIR);
  const staging = path.join(storageDir, STAGING_DIR);
  const old = path.join(storageDir, OLD_DIR);
  step("finding Python");
  const { candidate, info } = await choosePython(options, run);
  const version = versionText(info.version);
  await storage(storageDir, async () => {
    await fs.promises.rm(staging, { recursive: true, force: true });
    await fs.promises.rm(old, { recursive: true, force: true });
  });

  step(`creating the environment with ${info.executable} (${version})`);
  log.info(`creating ${staging} with ${info.executable} (Python ${version})`);
  const lines = (line: string) => log.info(`  ${line}`);
  // The command as given (a wrapper or shim may set things up for its Python), not the
  // executable it reported.
  const venv = await run(candidate.command, venvArgs(staging), {
    cwd: options.extensionPath,
    timeoutMs: VENV_MS,
    onLine: lines,
  });
  if (venv.code !== 0 || venv.error) {
    throw new SetupError({ kind: "venv", python: info.executable, detail: why(venv) });
  }

  step("installing ttcc and its dependencies from the extension (no network)");
  const python = envPython(staging);
  const args = pipInstallArgs(wheels);
  log.info(`installing: ${python} ${args.join(" ")}`);
  const pip = await run(python, args, { env: pipEnvironment(process.env), timeoutMs: PIP_MS, onLine: lines });
  if (pip.code !== 0 || pip.error) {
    const detail = pip.error?.message ?? (lastLine(pip.stderr) || `pip exited with ${pip.code ?? pip.signal}`);
    throw new SetupError({ kind: "install", detail });
  }

  const stamp = makeStamp(options.extensionVersion, options.basePython, info, (options.now ?? (() => new Date()))());
  const check = await run(python, ["-I", "-c", HEALTH_SCRIPT], { timeoutMs: PROBE_MS });
  if (!healthy(stamp, check.code, check.stdout)) {
    throw new SetupError({ kind: "broken", python, detail: why(check) });
  }
  await storage(storageDir, async () => {
    await fs.promises.writeFile(path.join(staging, STAMP_FILE), JSON.stringify(stamp, null, 1) + "\n");
    // The python folder is either the old environment or the new, complete one.
    if (fs.existsSync(envDir)) {
      await fs.promises.rename(envDir, old);
    }
    await fs.promises.rename(staging, envDir);
    await fs.promises.rm(old, { recursive: true, force: true });
  });
  log.info(`the Python environment ${envDir} is ready (Python ${version}, extension ${options.extensionVersion})`);
  return { python: envPython(envDir), envDir, stamp, built: true };
}
