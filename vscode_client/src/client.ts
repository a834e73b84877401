// The language client: starts `<python> -m ttcc.server`, restarts it when it dies (up to
// a limit), sends the settings, and passes on the server's report of each suggestion.

import * as os from "node:os";
import * as readline from "node:readline";
import * as vscode from "vscode";
import {
  CloseAction,
  ErrorAction,
  type ErrorHandler,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
} from "vscode-languageclient/node";

import { CrashWindow } from "./restartPolicy";
import { ServerLogParser } from "./serverLog";
import { type Get, type Launch, serverLaunch, serverSettings } from "./settings";

export const SECTION = "ttcc";

export function configGetter(): Get {
  const config = vscode.workspace.getConfiguration(SECTION);
  return (key) => config.get(key);
}

export interface ClientHooks {
  /** The server made a suggestion with `model` in `ms` of engine time; adaptedTo: the
   *  project folder the model was adapted to, if it was. */
  suggested(model: string, ms: number, adaptedTo: string | null): void;
}

/** The server's notification after each suggestion it sends (ttcc/server/lsp.py). */
const SUGGESTION_NOTIFICATION = "ttcc/suggestion";

interface SuggestionReport {
  uri: string;
  model: string;
  milliseconds: number;
  adaptedTo: string | null;
}

/** How the server starts with this Python (ttcc.server.* settings). */
export function currentLaunch(extensionPath: string, managedPython: string): Launch {
  return serverLaunch(configGetter(), extensionPath, os.homedir(), managedPython);
}

export function createClient(
  extensionPath: string,
  managedPython: string,
  outputChannel: vscode.LogOutputChannel,
  crashes: CrashWindow,
  hooks: ClientHooks,
): LanguageClient {
  const launch = currentLaunch(extensionPath, managedPython);
  outputChannel.info(`starting: ${[launch.command, ...launch.args].join(" ")} (in ${launch.cwd})`);
  const serverOptions: ServerOptions = {
    command: launch.command,
    args: launch.args,
    options: { cwd: launch.cwd, env: { ...process.env, PYTHONUNBUFFERED: "1" } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
    outputChannel,
    stdioOptions: { stdout: logLines, stderr: logLines },
    initializationOptions: () => serverSettings(configGetter()),
    errorHandler: restartingErrorHandler(crashes),
  };
  const client = new LanguageClient("ttcc", "ttcc", serverOptions, clientOptions);
  client.onNotification(SUGGESTION_NOTIFICATION, (report: SuggestionReport) =>
    hooks.suggested(report.model, report.milliseconds, report.adaptedTo ?? null),
  );
  return client;
}

/** Server output into the log channel, each line at the level the server gave it. */
function logLines(input: NodeJS.ReadableStream, channel: vscode.LogOutputChannel): void {
  const parser = new ServerLogParser();
  readline.createInterface({ input, crlfDelay: Infinity }).on("line", (text) => {
    const line = parser.line(text);
    channel[line.level](line.text);
  });
}

function restartingErrorHandler(crashes: CrashWindow): ErrorHandler {
  return {
    error: () => ({ action: ErrorAction.Continue }),
    closed: () =>
      crashes.crashed()
        ? { action: CloseAction.Restart, handled: true }
        : {
            action: CloseAction.DoNotRestart,
            message:
              `The ttcc server stopped ${crashes.limit + 1} times within ${crashes.windowMs / 60_000} minutes; ` +
              "see ttcc: Show Log, then ttcc: Restart Server.",
          },
  };
}

/** Sends the current settings to a running server. */
export async function sendSettings(client: LanguageClient): Promise<void> {
  if (client.isRunning()) {
    await client.sendNotification("workspace/didChangeConfiguration", {
      settings: { [SECTION]: serverSettings(configGetter()) },
    });
  }
}
