// Adapting a model to the workspace (python -m training.adapt, run with the server's
// Python): which languages to offer, the command line, and what its output says. No
// vscode import, so that this logic is tested without an editor.

import { type Get, type Launch, pathSetting } from "./settings";

/** One language's code in the project, as `python -m training.project_files` counts it. */
export interface LanguageCode {
  language: string;
  files: number;
  bytes: number;
}

export interface LanguageChoice {
  label: string;
  description: string;
  picked: boolean;
  language: string;
}

/** The counts printed by `python -m training.project_files FOLDER`. */
export function parseCodeByLanguage(stdout: string): LanguageCode[] {
  const found: unknown = JSON.parse(stdout);
  if (!Array.isArray(found)) {
    throw new Error(`unexpected output: ${stdout.slice(0, 200)}`);
  }
  return found.map((entry) => ({
    language: String(entry.language),
    files: Number(entry.files),
    bytes: Number(entry.bytes),
  }));
}

/** The languages to offer, most code first. Picked to start with: the language with the
 *  most code and any other with at least a fifth as much; a model learns nothing from a
 *  single file (adapting needs one to learn from and one to hold out). */
export function languageChoices(found: LanguageCode[]): LanguageChoice[] {
  const usable = found.filter((entry) => entry.files >= 2).sort((a, b) => b.bytes - a.bytes);
  const most = usable[0]?.bytes ?? 0;
  return usable.map((entry) => ({
    label: entry.language,
    description: `${entry.files} files, ${formatBytes(entry.bytes)}`,
    picked: entry.bytes * 5 >= most,
    language: entry.language,
  }));
}

export function formatBytes(bytes: number): string {
  if (bytes < 1000) {
    return `${bytes} bytes`;
  }
  return bytes < 1_000_000 ? `${Math.round(bytes / 1000)} KB` : `${(bytes / 1_000_000).toFixed(1)} MB`;
}

/** `<python> -m training.adapt FOLDER --language L ...`, where and how the server runs
 *  (its Python, directory and models), writing its measurements to `report`. */
export function adaptCommand(launch: Launch, get: Get, home: string, folder: string, language: string, report: string): Launch {
  const args = ["-m", "training.adapt", folder, "--language", language, "--progress-lines", "--json", report];
  const minutes = get("adapt.minutes");
  if (typeof minutes === "number" && minutes > 0) {
    args.push("--minutes", String(minutes)); // else training.adapt's default
  }
  const modelsDir = pathSetting(get, "server.modelsDir", home);
  if (modelsDir) {
    args.push("--models-dir", modelsDir);
  }
  return { command: launch.command, args, cwd: launch.cwd };
}

/** The percentage in a `progress N %` line of training.adapt --progress-lines. */
export function progressPercent(line: string): number | undefined {
  const found = /^progress (\d+) %$/.exec(line.trim());
  return found ? Number(found[1]) : undefined;
}

/** Exit status of training.adapt when PyTorch (or numpy, tqdm) is missing. */
export const MISSING_PACKAGES = 3;

interface Measure {
  bits_per_char: number;
  keystrokes_saved: number;
  fully_correct: number;
}

/** One line on the outcome, from training.adapt's --json report. */
export function outcome(language: string, report: { kept: boolean; before: Measure; after: Measure; worse?: string[] }): string {
  const { before, after } = report;
  const figures =
    `bits/char ${before.bits_per_char.toFixed(3)} → ${after.bits_per_char.toFixed(3)}, ` +
    `keystrokes saved ${percent(before.keystrokes_saved)} → ${percent(after.keystrokes_saved)}`;
  return report.kept
    ? `${language}: adapted (${figures} on held-out files)`
    : `${language}: the shipped model stays, adapting did not help (${(report.worse ?? []).join("; ") || figures})`;
}

function percent(share: number): string {
  return `${(100 * share).toFixed(1)} %`;
}
