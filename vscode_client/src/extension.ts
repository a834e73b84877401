// Entry point: the output channel, the status bar, the commands, and one language
// client at a time (a restart replaces it).

import * as vscode from "vscode";
import { type LanguageClient, State } from "vscode-languageclient/node";

import { createClient, SECTION, sendSettings } from "./client";
import { CrashWindow } from "./restartPolicy";
import { LAUNCH_SETTINGS } from "./settings";
import { StatusBar } from "./statusBar";
import { toggleTarget } from "./toggle";

const TARGETS = {
  global: vscode.ConfigurationTarget.Global,
  workspace: vscode.ConfigurationTarget.Workspace,
  workspaceFolder: vscode.ConfigurationTarget.WorkspaceFolder,
};

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel("ttcc", { log: true });
  const status = new StatusBar();
  const crashes = new CrashWindow();
  context.subscriptions.push(output, status);

  const start = async (): Promise<void> => {
    await stop();
    crashes.reset();
    const next = createClient(context.extensionPath, output, crashes, {
      suggested: (model, ms) => status.suggested(model, ms),
    });
    client = next;
    next.onDidChangeState(({ newState }) => {
      if (client === next) {
        status.setServer(newState === State.Running ? "running" : newState === State.Starting ? "starting" : "stopped");
      }
    });
    status.setServer("starting");
    try {
      await next.start();
    } catch (error) {
      status.setServer("stopped");
      const choice = await vscode.window.showErrorMessage(
        `ttcc: the server did not start (${String(error)}). Is ttcc.server.pythonPath an interpreter with ttcc installed?`,
        "Open Settings",
        "Show Log",
      );
      if (choice === "Open Settings") {
        void vscode.commands.executeCommand("workbench.action.openSettings", "ttcc.server");
      } else if (choice === "Show Log") {
        output.show(true);
      }
    }
  };

  context.subscriptions.push(
    vscode.commands.registerCommand("ttcc.toggle", async () => {
      const config = vscode.workspace.getConfiguration(SECTION);
      const enabled = config.get<boolean>("enabled") !== false;
      await config.update("enabled", !enabled, TARGETS[toggleTarget(config.inspect<boolean>("enabled"))]);
    }),
    vscode.commands.registerCommand("ttcc.restartServer", start),
    vscode.commands.registerCommand("ttcc.showLog", () => output.show(true)),
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
