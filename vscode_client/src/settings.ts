// What the extension reads from VS Code's configuration and hands to the language
// server. No vscode import: `get` reads one key of the "ttcc" section (undefined when
// unset), so that this logic is tested without an editor.

export type Get = (key: string) => unknown;

/** Settings the server understands (ttcc/server/settings.py), under the same camelCase names. */
export const SERVER_SETTINGS = [
  "enabled",
  "enabledLanguages",
  "unknownLanguages",
  "multiline",
  "maxChars",
  "minConfidence",
  "documentMemory",
  "memoryFromOpenDocuments",
  "debounceMs",
  "memoryBudgetMb",
] as const;

export type ServerSettings = Partial<Record<(typeof SERVER_SETTINGS)[number], unknown>>;

/** The server's settings as initializationOptions / didChangeConfiguration send them.
 *  Values go through unchanged: the server checks them and warns about bad ones. */
export function serverSettings(get: Get): ServerSettings {
  const settings: ServerSettings = {};
  for (const key of SERVER_SETTINGS) {
    const value = get(key);
    if (value !== undefined && value !== null) {
      settings[key] = value;
    }
  }
  return settings;
}

/** Settings that change how the server process starts: a change restarts it. */
export const LAUNCH_SETTINGS = [
  "server.pythonPath",
  "server.basePython",
  "server.directory",
  "server.modelsDir",
  "server.logLevel",
];

export interface Launch {
  command: string;
  args: string[];
  cwd: string;
}

const LOG_LEVELS = ["debug", "info", "warning", "error"];

/** A string setting, trimmed, `~` expanded; "" when unset or not a string. */
export function pathSetting(get: Get, key: string, home: string): string {
  const value = get(key);
  return typeof value === "string" ? expandHome(value.trim(), home) : "";
}

/** How to start the server: `<python> -m ttcc.server --stdio [--models-dir D] [--log-level L]`,
 *  where python is ttcc.server.pythonPath when set, else the extension's own environment's
 *  (`managedPython`); in server.directory, else in the extension's own directory: never in
 *  the workspace, whose own `ttcc` package `-m` could pick up instead. `~` means home. */
export function serverLaunch(get: Get, extensionPath: string, home: string, managedPython: string): Launch {
  const args = ["-m", "ttcc.server", "--stdio"];
  const modelsDir = pathSetting(get, "server.modelsDir", home);
  if (modelsDir) {
    args.push("--models-dir", modelsDir);
  }
  const logLevel = pathSetting(get, "server.logLevel", home);
  if (LOG_LEVELS.includes(logLevel)) {
    args.push("--log-level", logLevel);
  }
  return {
    command: pathSetting(get, "server.pythonPath", home) || managedPython,
    args,
    cwd: pathSetting(get, "server.directory", home) || extensionPath,
  };
}

export function expandHome(path: string, home: string): string {
  if (path === "~") {
    return home;
  }
  if (path.startsWith("~/")) {
    return home.replace(/\/+$/, "") + path.slice(1);
  }
  return path;
}
