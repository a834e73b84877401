// What the status-bar item says: on/off, the server's state, and the model ("adapted"
// when it was adapted to the document's project) and engine time of the last suggestion
// (which the server reports).

export type ServerState = "starting" | "running" | "stopped";

export interface Status {
  enabled: boolean;
  server: ServerState;
  model: string | undefined; // the model file of the last suggestion, if any yet
  lastSuggestionMs: number | undefined; // the engine's time for it
  adaptedTo?: string | null; // the project folder its model was adapted to, if it was
}

export interface StatusText {
  text: string;
  tooltip: string;
  command: string;
}

export function statusText(status: Status): StatusText {
  const lines: string[] = [];
  let text: string;
  let command = "ttcc.toggle";
  if (status.server === "stopped") {
    text = "$(warning) ttcc";
    lines.push("The ttcc server is not running: click to restart it (ttcc: Show Log says why).");
    command = "ttcc.restartServer";
  } else if (!status.enabled) {
    text = "$(circle-slash) ttcc";
    lines.push("Completions off: click to turn them on.");
  } else {
    const parts = ["$(sparkle) ttcc"];
    if (status.server === "starting") {
      parts.push("$(loading~spin)");
    }
    if (status.model !== undefined) {
      parts.push(status.model);
    }
    if (status.adaptedTo) {
      parts.push("adapted");
    }
    if (status.lastSuggestionMs !== undefined) {
      parts.push(formatMs(status.lastSuggestionMs));
    }
    text = parts.join(" ");
    lines.push("Completions on: click to turn them off.");
  }
  if (status.model !== undefined) {
    lines.push(`Last suggestion from ${status.model}` + (status.adaptedTo ? `, adapted to ${status.adaptedTo}` : ""));
  }
  if (status.lastSuggestionMs !== undefined) {
    lines.push(`Last suggestion: ${formatMs(status.lastSuggestionMs)} in the engine.`);
  }
  return { text, tooltip: lines.join("\n"), command };
}

export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}
