/**
 * Inline completion (ghost text) from the server's `textDocument/inlineCompletion`.
 *
 * vscode-languageclient 9 only has this as a proposed feature, so the extension registers
 * its own `InlineCompletionItemProvider` that asks the server: VS Code's cancellation token
 * becomes `$/cancelRequest` (the server closes the model stream at once), Tab accepts and
 * Esc dismisses as for any inline suggestion, and an accepted item runs
 * `ttaCodegen.completionAccepted`, which reports it to the server (`tta.completionAccepted`)
 * for the shown/accepted statistics. A status-bar item shows and flips
 * `ttaCodegen.inlineCompletion.enabled`; `ttaCodegen.inlineCompletion.languages` turns it
 * off per language.
 */
import * as vscode from 'vscode';
import { ExecuteCommandRequest } from 'vscode-languageclient/node';
import { SECTION, ServerManager } from './manager';
import { enabledFor, itemText, toInlineSettings } from './inlineSettings';

export const TOGGLE = 'ttaCodegen.toggleInlineCompletion';
export const ACCEPTED = 'ttaCodegen.completionAccepted';

interface ServerItem {
  insertText?: unknown;
  range?: { start: { line: number; character: number }; end: { line: number; character: number } };
  command?: { command: string; arguments?: unknown[] };
}

export class InlineCompletion implements vscode.InlineCompletionItemProvider, vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly manager: ServerManager) {
    this.item = vscode.window.createStatusBarItem('ttaCodegen.inline', vscode.StatusBarAlignment.Right, 99);
    this.item.name = 'TTA Codegen inline completion';
    this.item.command = TOGGLE;
    this.render();
    this.item.show();
    this.disposables.push(
      this.item,
      vscode.languages.registerInlineCompletionItemProvider({ pattern: '**' }, this),
      vscode.commands.registerCommand(TOGGLE, () => this.toggle()),
      vscode.commands.registerCommand(ACCEPTED, (arg: unknown) => this.accepted(arg)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`${SECTION}.inlineCompletion`)) {
          this.render();
        }
      }),
    );
  }

  private settings() {
    const config = vscode.workspace.getConfiguration(SECTION);
    return toInlineSettings((key) => config.get(key));
  }

  private render(): void {
    const on = this.settings().enabled;
    this.item.text = on ? '$(sparkle) TTA' : '$(circle-slash) TTA';
    this.item.tooltip = on
      ? 'TTA Codegen inline completion is on. Click to turn it off.'
      : 'TTA Codegen inline completion is off. Click to turn it on.';
  }

  private async toggle(): Promise<void> {
    const config = vscode.workspace.getConfiguration(SECTION);
    await config.update('inlineCompletion.enabled', !this.settings().enabled, vscode.ConfigurationTarget.Global);
    this.render();
  }

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[]> {
    if (!enabledFor(this.settings(), document.languageId) || !this.manager.running) {
      return [];
    }
    const client = await this.manager.ready();
    const c2p = client.code2ProtocolConverter;
    let answer: { items?: ServerItem[] } | ServerItem[] | null;
    try {
      answer = await client.sendRequest(
        'textDocument/inlineCompletion',
        {
          textDocument: c2p.asTextDocumentIdentifier(document),
          position: c2p.asPosition(position),
          context: { triggerKind: context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke ? 1 : 2 },
        },
        token,
      );
    } catch {
      return []; // cancelled (the user typed on) or the server is restarting
    }
    const items = Array.isArray(answer) ? answer : (answer?.items ?? []);
    const out: vscode.InlineCompletionItem[] = [];
    for (const item of items) {
      const text = itemText(item.insertText);
      if (!text) {
        continue;
      }
      const range = item.range ? client.protocol2CodeConverter.asRange(item.range) : undefined;
      const result = new vscode.InlineCompletionItem(text, range);
      if (item.command) {
        result.command = { title: 'Accepted', command: ACCEPTED, arguments: item.command.arguments ?? [] };
      }
      out.push(result);
    }
    return out;
  }

  private async accepted(arg: unknown): Promise<void> {
    try {
      const client = await this.manager.ready();
      await client.sendRequest(ExecuteCommandRequest.type, {
        command: 'tta.completionAccepted',
        arguments: [arg ?? {}],
      });
    } catch (err) {
      this.manager.log(`could not report an accepted completion: ${String(err)}`);
    }
  }

  dispose(): void {
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}
