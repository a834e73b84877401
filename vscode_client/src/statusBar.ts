// The status-bar item: kept up to date from the configuration, the server's state
// and the last suggestion (model and engine time, as the server reports them).

import * as vscode from "vscode";

import { configGetter } from "./client";
import { type ServerState, statusText } from "./statusText";

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("ttcc.status", vscode.StatusBarAlignment.Right, 100);
  private server: ServerState = "starting";
  private lastModel: string | undefined;
  private lastSuggestionMs: number | undefined;
  private adaptedTo: string | null = null;

  constructor() {
    this.item.name = "ttcc";
    this.refresh();
    this.item.show();
  }

  setServer(state: ServerState): void {
    this.server = state;
    this.refresh();
  }

  suggested(model: string, ms: number, adaptedTo: string | null): void {
    this.lastModel = model;
    this.lastSuggestionMs = ms;
    this.adaptedTo = adaptedTo;
    this.refresh();
  }

  refresh(): void {
    const shown = statusText({
      enabled: configGetter()("enabled") !== false,
      server: this.server,
      model: this.lastModel,
      lastSuggestionMs: this.lastSuggestionMs,
      adaptedTo: this.adaptedTo,
    });
    this.item.text = shown.text;
    this.item.tooltip = shown.tooltip;
    this.item.command = shown.command;
  }

  dispose(): void {
    this.item.dispose();
  }
}
