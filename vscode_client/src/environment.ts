// Which Python runs the server: ttcc.server.pythonPath when the user set one (an
// interpreter with ttcc installed), else the extension's own environment in its global
// storage, which pythonSetup.ts makes from the bundled wheels with a progress
// notification. A failure becomes a message that says what to do, with buttons.

import * as os from "node:os";
import * as vscode from "vscode";

import { configGetter } from "./client";
import { type Action, failureMessage, SetupError } from "./pythonEnv";
import { ensureEnvironment, type WithProgress } from "./pythonSetup";
import { pathSetting } from "./settings";

export interface ServerPython {
  python: string;
  /** The extension's own environment (not ttcc.server.pythonPath). */
  managed: boolean;
}

/** ttcc.server.pythonPath when set; else the extension's environment, built if need be. */
export async function serverPython(
  context: vscode.ExtensionContext,
  output: vscode.LogOutputChannel,
  force = false,
): Promise<ServerPython> {
  const get = configGetter();
  const home = os.homedir();
  const expert = pathSetting(get, "server.pythonPath", home);
  if (expert) {
    return { python: expert, managed: false };
  }
  const ready = await ensureEnvironment({
    storageDir: context.globalStorageUri.fsPath,
    extensionPath: context.extensionPath,
    extensionVersion: String(context.extension.packageJSON.version),
    basePython: pathSetting(get, "server.basePython", home),
    pythonExtension: () => pythonExtensionInterpreter(output),
    withProgress,
    log: output,
    force,
  });
  if (!ready.built) {
    output.info(`the Python environment ${ready.envDir} (Python ${ready.stamp.pythonVersion}) is ready`);
  }
  return { python: ready.python, managed: true };
}

const withProgress: WithProgress = (task) =>
  Promise.resolve(
    vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: "ttcc: setting up its Python environment",
        cancellable: false,
      },
      (progress) => task((message) => progress.report({ message })),
    ),
  );

function timeout<T>(promise: Thenable<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
    Promise.resolve(promise).then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** The interpreter the Python extension (ms-python.python) chose for the first workspace
 *  folder, if that extension is installed and says; any failure means none. */
async function pythonExtensionInterpreter(output: vscode.LogOutputChannel): Promise<string | undefined> {
  const extension = vscode.extensions.getExtension("ms-python.python");
  if (!extension) {
    return undefined;
  }
  try {
    const api: any = await timeout(extension.activate(), 20_000, "activating the Python extension");
    const resource = vscode.workspace.workspaceFolders?.[0]?.uri;
    const environments = api?.environments;
    if (environments?.getActiveEnvironmentPath) {
      const active = environments.getActiveEnvironmentPath(resource);
      const resolved = await timeout<{ executable?: { uri?: vscode.Uri } } | undefined>(
        environments.resolveEnvironment(active),
        20_000,
        "the Python extension's environment",
      );
      const executable = resolved?.executable?.uri?.fsPath;
      if (executable) {
        output.info(`the Python extension's interpreter: ${executable}`);
        return executable;
      }
    }
    const command: unknown = api?.settings?.getExecutionDetails?.(resource)?.execCommand;
    if (Array.isArray(command) && command.length === 1 && typeof command[0] === "string") {
      output.info(`the Python extension's interpreter: ${command[0]}`);
      return command[0];
    }
  } catch (error) {
    output.warn(`could not ask the Python extension for its interpreter: ${String(error)}`);
  }
  return undefined;
}

/** Shows why the environment could not be set up; Retry calls retry. Does not wait for the user. */
export function showSetupFailure(error: unknown, output: vscode.LogOutputChannel, retry: () => unknown): void {
  const { message, actions } =
    error instanceof SetupError
      ? failureMessage(error.failure)
      : {
          message: `ttcc: setting up its Python environment failed (${String(error)}). ttcc: Show Log has the details.`,
          actions: ["Open Settings", "Show Log", "Retry"] as Action[],
        };
  output.error(message);
  void vscode.window.showErrorMessage(message, ...actions).then((choice) => act(choice, output, retry));
}

export function act(choice: string | undefined, output: vscode.LogOutputChannel, retry: () => unknown): void {
  if (choice === "Open Settings") {
    void vscode.commands.executeCommand("workbench.action.openSettings", "ttcc.server");
  } else if (choice === "Show Log") {
    output.show(true);
  } else if (choice === "Retry") {
    void retry();
  }
}
