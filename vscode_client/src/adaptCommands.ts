// "ttcc: Adapt to This Workspace" and "ttcc: Forget Adapted Models". Both run with the
// server's Python in the server's directory: the adaptation writes the model into the
// user's cache, where the running server finds it for the documents of that folder
// (ttcc/adapted.py); forgetting removes it there. Only in trusted workspaces.

import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import * as vscode from "vscode";

import {
  adaptCommand,
  languageChoices,
  MISSING_PACKAGES,
  outcome,
  parseCodeByLanguage,
  progressPercent,
} from "./adaptation";
import { configGetter } from "./client";
import type { Launch } from "./settings";

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; each stdout line also goes to onLine. */
function run(launch: Launch, onLine: (line: string) => void = () => {}, started: (child: ChildProcess) => void = () => {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(launch.command, launch.args, {
      cwd: launch.cwd,
      env: { ...process.env, PYTHONUNBUFFERED: "1" },
    });
    started(child);
    let stdout = "";
    let stderr = "";
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      stdout += `${line}\n`;
      onLine(line);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function lastLine(text: string): string {
  return text.trim().split("\n").at(-1) ?? "";
}

async function pickFolder(): Promise<vscode.WorkspaceFolder | undefined> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length === 0) {
    void vscode.window.showInformationMessage("ttcc: open a folder to adapt to it.");
    return undefined;
  }
  return folders.length === 1 ? folders[0] : vscode.window.showWorkspaceFolderPick({ placeHolder: "ttcc: adapt to which folder?" });
}

/** Whether a command may run now: in a trusted workspace, once the server's Python is
 *  known; else it says why. */
function canRun(server: Launch | undefined): server is Launch {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage("ttcc: adapting runs code on the workspace's files, so it needs a trusted workspace.");
    return false;
  }
  if (!server) {
    void vscode.window.showInformationMessage("ttcc: the server's Python is still being set up; try again in a moment.");
    return false;
  }
  return true;
}

/** Adapts the models of the languages the user picks to a workspace folder, one after
 *  another, with a cancellable progress notification; cancelling stops training and keeps
 *  the best weights so far (training.adapt's Ctrl-C), when they beat the shipped model. */
export async function adaptWorkspace(server: Launch | undefined, output: vscode.LogOutputChannel): Promise<void> {
  if (!canRun(server)) {
    return;
  }
  const folder = await pickFolder();
  if (!folder) {
    return;
  }
  const counted = await run({ ...server, args: ["-m", "training.project_files", folder.uri.fsPath] });
  if (counted.code !== 0) {
    output.error(counted.stderr);
    void vscode.window.showErrorMessage(`ttcc: cannot list the workspace's code: ${lastLine(counted.stderr || counted.stdout)}`);
    return;
  }
  const choices = languageChoices(parseCodeByLanguage(counted.stdout));
  if (choices.length === 0) {
    void vscode.window.showInformationMessage(`ttcc: ${folder.name} has no code in a language ttcc completes.`);
    return;
  }
  const picked = await vscode.window.showQuickPick(choices, {
    canPickMany: true,
    title: `ttcc: adapt to ${folder.name}`,
    placeHolder: "The languages whose models to adapt (most code first)",
  });
  if (!picked || picked.length === 0) {
    return;
  }
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), "ttcc-adapt-"));
  const lines: { text: string; failed: boolean }[] = [];
  try {
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `ttcc: adapting to ${folder.name}`, cancellable: true },
      async (progress, token) => {
        for (const [index, choice] of picked.entries()) {
          if (token.isCancellationRequested) {
            break;
          }
          const report = path.join(scratch, `${choice.language}.json`);
          const share = 100 / picked.length;
          let shown = 0;
          const command = adaptCommand(server, configGetter(), os.homedir(), folder.uri.fsPath, choice.language, report);
          output.info(`adapting: ${[command.command, ...command.args].join(" ")} (in ${command.cwd})`);
          const done = await run(
            command,
            (line) => {
              const percent = progressPercent(line);
              if (percent === undefined) {
                output.info(line);
                progress.report({ message: `${choice.language} (${index + 1} of ${picked.length}): ${line}` });
              } else {
                progress.report({ increment: ((percent - shown) * share) / 100, message: `${choice.language}: training, ${percent} %` });
                shown = percent;
              }
            },
            (child) => token.onCancellationRequested(() => child.kill("SIGINT")),
          );
          if (done.stderr.trim()) {
            output.info(done.stderr.trim());
          }
          if (done.code === 0) {
            lines.push({ text: outcome(choice.language, JSON.parse(await fs.readFile(report, "utf8"))), failed: false });
          } else if (token.isCancellationRequested) {
            lines.push({ text: `${choice.language}: cancelled`, failed: false });
          } else {
            lines.push({ text: `${choice.language}: ${lastLine(done.stderr) || `failed (exit status ${done.code})`}`, failed: true });
            if (done.code === MISSING_PACKAGES) {
              break; // the same for every language
            }
          }
        }
      },
    );
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
  for (const line of lines) {
    output.info(line.text);
  }
  const failed = lines.some((line) => line.failed);
  const message = `ttcc: ${lines.map((line) => line.text).join(" · ")}`;
  void (failed ? vscode.window.showErrorMessage(message, "Show Log") : vscode.window.showInformationMessage(message)).then(
    (choice) => choice === "Show Log" && output.show(true),
  );
}

/** Removes the models adapted to the workspace's folders; the server goes back to the
 *  shipped ones at the next suggestion. */
export async function forgetAdapted(server: Launch | undefined, output: vscode.LogOutputChannel): Promise<void> {
  if (!canRun(server)) {
    return;
  }
  const said: string[] = [];
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const done = await run({ ...server, args: ["-m", "ttcc.adapted", "--forget", folder.uri.fsPath] });
    const line = lastLine(done.code === 0 ? done.stdout : done.stderr);
    output.info(line);
    said.push(line);
  }
  void vscode.window.showInformationMessage(`ttcc: ${said.join(" · ") || "no folder is open"}`);
}
