/**
 * Read-only documents for "Show Models" and "Show Usage & Cost" (scheme `tta-codegen`),
 * so closing them never asks to save, and the status bar item.
 */
import * as vscode from 'vscode';
import { statusText } from './format';

export const SCHEME = 'tta-codegen';

export class ReportDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly contents = new Map<string, string>();
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.path) ?? '';
  }

  async show(name: string, markdown: string): Promise<void> {
    const uri = vscode.Uri.from({ scheme: SCHEME, path: `/${name}` });
    this.contents.set(uri.path, markdown);
    this.emitter.fire(uri);
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.languages.setTextDocumentLanguage(doc, 'markdown');
    await vscode.window.showTextDocument(doc, { preview: true });
  }

  dispose(): void {
    this.emitter.dispose();
  }
}

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  model: string | undefined;
  costToday: number | undefined;
  running = false;

  constructor() {
    this.item = vscode.window.createStatusBarItem('ttaCodegen.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'TTA Codegen';
    this.item.command = 'ttaCodegen.showUsage';
    this.render();
    this.item.show();
  }

  render(): void {
    this.item.text = statusText(this.model, this.costToday, this.running);
    this.item.tooltip = this.running
      ? `TTA Codegen — model: ${this.model ?? 'none configured'}; today: ${this.costToday === undefined ? 'unknown' : `$${this.costToday.toFixed(4)}`}. Click for usage & cost.`
      : 'TTA Codegen — the server is not running. Click for usage; run "TTA Codegen: Restart Server" to start it.';
  }

  dispose(): void {
    this.item.dispose();
  }
}
