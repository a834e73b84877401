// Entry point: the output channel, the status bar, the commands (adapting to the
// workspace among them), and one language client at a time (a restart replaces it),
// started once its Python is ready.

import * as os from "node:os";
import * as vscode from "vscode";
import { type LanguageClient, State } from "vscode-languageclient/node";

import { forgetAdapted, adaptWorkspace } from "./adaptCommands";
import { configGetter, createClient, currentLaunch, SECTION, sendSettings } from "./client";
import { act, type ServerPython, serverPython, showSetupFailure } from "./environment";
import { CrashWindow } from "./restartPolicy";
import { LAUNCH_SETTINGS, pathSetting } from "./settings";
import { StatusBar } from "./statusBar";
import { toggleTarget } from "./toggle";

const TARGETS = {
  global: vscode.ConfigurationTarget.Global,
  workspace: vscode.ConfigurationTarget.Workspace,
  workspaceFolder: vscode.ConfigurationTarget.WorkspaceFolder,
};

let client: LanguageClient | undefined;
// The Python of the last server started: the adaptation commands run with it.
let serverPythonPath: string | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel("ttcc", { log: true });
  const status = new StatusBar();
  const crashes = new CrashWindow();
  context.subscriptions.push(output, status);

  // Each (re)start supersedes the ones before it, which may still be setting up Python.
  let generation = 0;
  const start = async (rebuild = false): Promise<void> => {
    const mine = ++generation;
    await stop();
    crashes.reset();
    status.setServer("starting");
    let python: ServerPython;
    try {
      python = await serverPython(context, output, rebuild);
    } catch (error) {
      if (mine === generation) {
        status.setServer("stopped");
        showSetupFailure(error, output, () => start());
      }
      return;
    }
    if (mine !== generation) {
      return;
    }
    serverPythonPath = python.python;
    const next = createClient(context.extensionPath, python.python, output, crashes, {
      suggested: (model, ms, adaptedTo) => status.suggested(model, ms, adaptedTo),
    });
    client = next;
    next.onDidChangeState(({ newState }) => {
      if (client === next) {
        status.setServer(newState === State.Running ? "running" : newState === State.Starting ? "starting" : "stopped");
      }
    });
    try {
      await next.start();
    } catch (error) {
      if (client !== next) {
        return;
      }
      status.setServer("stopped");
      const message = python.managed
        ? `ttcc: the server did not start (${String(error)}). ttcc: Show Log says why; ` +
          "ttcc: Reinstall Python Environment rebuilds the extension's Python environment."
        : `ttcc: the server did not start (${String(error)}). ` +
          `Is ttcc.server.pythonPath (${python.python}) an interpreter with ttcc installed? ` +
          "Clear it to let the extension set up its own.";
      output.error(message);
      void vscode.window
        .showErrorMessage(message, "Open Settings", "Show Log", "Retry")
        .then((choice) => act(choice, output, () => start()));
    }
  };

  const launch = () => (serverPythonPath === undefined ? undefined : currentLaunch(context.extensionPath, serverPythonPath));
  context.subscriptions.push(
    vscode.commands.registerCommand("ttcc.toggle", async () => {
      const config = vscode.workspace.getConfiguration(SECTION);
      const enabled = config.get<boolean>("enabled") !== false;
      await config.update("enabled", !enabled, TARGETS[toggleTarget(config.inspect<boolean>("enabled"))]);
    }),
    vscode.commands.registerCommand("ttcc.restartServer", () => start()),
    vscode.commands.registerCommand("ttcc.reinstallEnvironment", async () => {
      if (pathSetting(configGetter(), "server.pythonPath", os.homedir())) {
        void vscode.window.showInformationMessage(
          "ttcc: ttcc.server.pythonPath is set, so the server runs with that Python, " +
            "not the extension's own environment.",
        );
        return;
      }
      await start(true);
    }),
    vscode.commands.registerCommand("ttcc.showLog", () => output.show(true)),
    vscode.commands.registerCommand("ttcc.adaptWorkspace", () => adaptWorkspace(launch(), output)),
    vscode.commands.registerCommand("ttcc.forgetAdapted", () => forgetAdapted(launch(), output)),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (!event.affectsConfiguration(SECTION)) {
        return;
      }
      status.refresh();
      if (LAUNCH_SETTINGS.some((key) => event.affectsConfiguration(`${SECTION}.${key}`))) {
        await start();
      } else if (client) {
        await sendSettings(client);
      }
    }),
  );
  await start();
}

async function stop(): Promise<void> {
  const old = client;
  client = undefined;
  if (old) {
    try {
      await old.dispose(2000);
    } catch {
      // a server that failed to start or already died has nothing to stop
    }
  }
}

export function deactivate(): Promise<void> {
  return stop();
}
