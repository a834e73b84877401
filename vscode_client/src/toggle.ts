// Where "toggle completions" writes ttcc.enabled: the most specific place that sets
// it (a folder or the workspace overriding the user's setting), else user settings,
// so that the toggle always changes the effective value.

export interface Inspected {
  globalValue?: boolean;
  workspaceValue?: boolean;
  workspaceFolderValue?: boolean;
}

export type Target = "workspaceFolder" | "workspace" | "global";

export function toggleTarget(inspected: Inspected | undefined): Target {
  if (inspected?.workspaceFolderValue !== undefined) {
    return "workspaceFolder";
  }
  if (inspected?.workspaceValue !== undefined) {
    return "workspace";
  }
  return "global";
}
