// The server logs to stderr as "YYYY-MM-DD HH:MM:SS,mmm LEVEL logger: message"
// (ttcc/server/__main__.py). Each line goes to the log output channel at its own level,
// without the second timestamp; other lines (tracebacks) keep the level before them.

export type Level = "debug" | "info" | "warn" | "error";

const LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) (.*)$/;
const LEVELS: Record<string, Level> = {
  DEBUG: "debug",
  INFO: "info",
  WARNING: "warn",
  ERROR: "error",
  CRITICAL: "error",
};

export class ServerLogParser {
  private level: Level = "info";

  line(text: string): { level: Level; text: string } {
    const match = LINE.exec(text);
    if (match) {
      this.level = LEVELS[match[1]];
      return { level: this.level, text: match[2] };
    }
    return { level: this.level, text };
  }
}
