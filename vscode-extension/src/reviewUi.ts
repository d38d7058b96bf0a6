/**
 * Review before keep in VS Code: what the lenses' commands do on this side, the diff
 * view, the palette's review commands, and one undo step per generation.
 *
 * The lenses themselves are the server's (`textDocument/codeLens` + refresh). Clicking
 * one runs the server command through the language client, whose `executeCommand`
 * middleware lands here: `tta.diff` opens `vscode.diff` between a `tta-original:`
 * document (the server's `original_document`) and the live file; a `refused` answer
 * shows the server's message with its offered actions ("Discard anyway") as buttons;
 * errors are shown instead of being swallowed.
 *
 * Undo: VS Code makes every `workspace.applyEdit` its own undo step, so a streamed
 * generation would take dozens of Ctrl+Z. We answer `workspace/applyEdit` ourselves for
 * the server's text edits (label `tta-codegen`) in a visible editor, with
 * `TextEditor.edit` and undo stops only before the first edit of a generation. The edit
 * still produces ordinary change events, which the client sends as `didChange`: the
 * server confirms its edits by that echo.
 */
import * as vscode from 'vscode';
import { ApplyWorkspaceEditParams, ApplyWorkspaceEditResult, LanguageClient, TextDocumentEdit } from 'vscode-languageclient/node';
import { LspRange, SERVER_COMMANDS, ServerCommandId } from './args';
import { describeAnswer, describeError, Notice } from './answer';
import type { ServerManager } from './manager';
import {
  diffTitle,
  failureReason,
  GENERATING_COMMANDS,
  originalId,
  originalUriParts,
  parseDiff,
  parsePending,
  parseRefusal,
  pendingAtCursor,
  REVIEW_COMMANDS,
  sameUri,
  singleDocumentEdit,
  UndoGroups,
} from './review';

/** The label the server puts on its edits (streaming, restore, discard). */
const SERVER_EDIT_LABEL = 'tta-codegen';

function toRange(r: LspRange): vscode.Range {
  return new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);
}

/** Read-only documents holding each pending change's original document, for the diff view. */
export class OriginalDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly contents = new Map<string, string>();
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;

  provideTextDocumentContent(uri: vscode.Uri): string {
    const id = originalId(uri.query);
    return (id !== undefined ? this.contents.get(id) : undefined) ?? '';
  }

  set(fileUri: string, id: string, text: string): vscode.Uri {
    const uri = vscode.Uri.from(originalUriParts(fileUri, id));
    this.contents.set(id, text);
    this.emitter.fire(uri); // an open diff view of the same change shows the new text
    return uri;
  }

  dispose(): void {
    this.emitter.dispose();
  }
}

export class ReviewController implements vscode.Disposable {
  readonly groups = new UndoGroups();
  /** Documents we are editing right now: their change events are ours, not the user's. */
  private readonly applying = new Set<string>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly server: ServerManager,
    private readonly originals: OriginalDocuments,
  ) {
    this.disposables.push(
      vscode.workspace.onDidChangeTextDocument((e) => {
        const key = e.document.uri.toString();
        if (e.contentChanges.length > 0 && this.groups.active && !this.applying.has(key)) {
          this.groups.interrupted(key);
        }
      }),
    );
  }

  register(): vscode.Disposable[] {
    const reg = (id: string, command: ServerCommandId): vscode.Disposable =>
      vscode.commands.registerCommand(id, () => this.onPending(command));
    return [
      reg('ttaCodegen.acceptChange', SERVER_COMMANDS.accept),
      reg('ttaCodegen.discardChange', SERVER_COMMANDS.discard),
      reg('ttaCodegen.showChangeDiff', SERVER_COMMANDS.diff),
      reg('ttaCodegen.regenerateChange', SERVER_COMMANDS.regenerate),
    ];
  }

  /** Wraps one request: a generating command's edits form one undo step. */
  async around<T>(command: string, run: () => Promise<T>): Promise<T> {
    if (!GENERATING_COMMANDS.has(command)) {
      return run();
    }
    this.groups.begin();
    try {
      return await run();
    } finally {
      const edits = this.groups.end();
      if (edits > 0) {
        this.server.log(`${command}: ${edits} streamed edit(s) applied as one undo step`);
      }
    }
  }

  /**
   * The language client's `executeCommand` middleware: lens clicks and code actions.
   * Review and generating commands run here (errors and answers shown); others as usual.
   */
  executeCommand(
    command: string,
    args: unknown[],
    next: (command: string, args: unknown[]) => unknown,
  ): unknown {
    if (!REVIEW_COMMANDS.has(command) && !GENERATING_COMMANDS.has(command)) {
      return next(command, args);
    }
    const first = args[0];
    const argument = typeof first === 'object' && first !== null ? (first as Record<string, unknown>) : {};
    return this.run(command as ServerCommandId, argument);
  }

  /** Runs a review or generating command on the server and shows what came of it. */
  async run(command: ServerCommandId, argument: Record<string, unknown>): Promise<unknown> {
    const what = WHAT[command] ?? command;
    let answer: unknown;
    try {
      answer =
        command === SERVER_COMMANDS.accept || command === SERVER_COMMANDS.cancel
          ? await this.server.request(command, argument)
          : await vscode.window.withProgress(
              { location: vscode.ProgressLocation.Window, title: `TTA Codegen: ${what}…` },
              () => this.server.request(command, argument),
            );
    } catch (error) {
      this.server.log(`${command}: ${error instanceof Error ? error.message : String(error)}`);
      this.show(describeError(what, command, error));
      return undefined;
    }
    await this.handleAnswer(command, what, answer);
    return answer;
  }

  private async handleAnswer(command: ServerCommandId, what: string, answer: unknown): Promise<void> {
    const refusal = parseRefusal(answer);
    if (refusal) {
      this.server.log(`${command} refused: ${refusal.message}`);
      const titles = refusal.actions.map((a) => a.title);
      const choice = await vscode.window.showWarningMessage(`TTA Codegen: ${refusal.message}`, ...titles);
      const action = refusal.actions.find((a) => a.title === choice);
      if (action) {
        await this.run(action.command as ServerCommandId, action.argument);
      }
      return;
    }
    if (command === SERVER_COMMANDS.diff) {
      await this.openDiff(answer);
      return;
    }
    if (GENERATING_COMMANDS.has(command)) {
      this.show(describeAnswer(what, answer));
      return;
    }
    const failed = failureReason(answer);
    if (failed !== undefined) {
      this.show({ severity: 'error', message: `${what} failed: ${failed}` });
    } else if (command === SERVER_COMMANDS.discard) {
      vscode.window.setStatusBarMessage('$(discard) TTA Codegen: change discarded, the original text is back.', 5000);
    } else if (command === SERVER_COMMANDS.accept) {
      vscode.window.setStatusBarMessage('$(check) TTA Codegen: change accepted.', 5000);
    }
  }

  private async openDiff(answer: unknown): Promise<void> {
    const diff = parseDiff(answer);
    if (!diff) {
      this.show({ severity: 'error', message: 'Show Change Diff failed: the server answered without a diff.' });
      return;
    }
    const left = this.originals.set(diff.uri, diff.id, diff.originalDocument);
    const right = vscode.Uri.parse(diff.uri);
    const options: vscode.TextDocumentShowOptions = { preview: true, selection: toRange(diff.range) };
    await vscode.commands.executeCommand('vscode.diff', left, right, diffTitle(diff.uri), options);
  }

  /** A palette review command: on the pending change at the cursor. */
  private async onPending(command: ServerCommandId): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      void vscode.window.showErrorMessage('TTA Codegen: open the file with the pending change first.');
      return;
    }
    let list: unknown;
    try {
      list = await this.server.request(SERVER_COMMANDS.listPending, {});
    } catch (error) {
      this.show(describeError('Listing pending changes', SERVER_COMMANDS.listPending, error));
      return;
    }
    const position = editor.selection.active;
    const choice = pendingAtCursor(parsePending(list), editor.document.uri.toString(), {
      line: position.line,
      character: position.character,
    });
    if ('error' in choice) {
      void vscode.window.showInformationMessage(`TTA Codegen: ${choice.error}`);
      return;
    }
    await this.run(command, { id: choice.change.id });
  }

  /**
   * `workspace/applyEdit`. The server's one-document text edits are applied in a visible
   * editor with our undo stops; everything else as the language client would.
   */
  async applyEdit(client: LanguageClient, params: ApplyWorkspaceEditParams): Promise<ApplyWorkspaceEditResult> {
    const single = params.label === SERVER_EDIT_LABEL ? singleDocumentEdit(params.edit) : undefined;
    const editor = single
      ? vscode.window.visibleTextEditors.find((e) => sameUri(e.document.uri.toString(), single.uri))
      : undefined;
    if (!single || !editor) {
      return this.defaultApplyEdit(client, params);
    }
    const document = editor.document;
    // Stale against what the user typed meanwhile: refuse, the server retries on the new text.
    if (single.version !== null && document.version !== single.version) {
      return { applied: false, failureReason: `document version ${document.version}, edit for ${single.version}` };
    }
    const key = document.uri.toString();
    const options = this.groups.options(key) ?? { undoStopBefore: true, undoStopAfter: true };
    this.applying.add(key);
    try {
      // TextEditor.edit also checks the version, in the window, when it applies the edit.
      const applied = await editor.edit((builder) => {
        for (const e of single.edits) {
          builder.replace(toRange(e.range), e.newText);
        }
      }, options);
      if (applied) {
        this.groups.applied(key);
      }
      return applied ? { applied } : { applied, failureReason: 'the editor changed before the edit was applied' };
    } catch (error) {
      return { applied: false, failureReason: error instanceof Error ? error.message : String(error) };
    } finally {
      this.applying.delete(key);
    }
  }

  /** What vscode-languageclient does (its handler is private): version check, then applyEdit. */
  private async defaultApplyEdit(client: LanguageClient, params: ApplyWorkspaceEditParams): Promise<ApplyWorkspaceEditResult> {
    const converted = await client.protocol2CodeConverter.asWorkspaceEdit(params.edit);
    for (const change of params.edit.documentChanges ?? []) {
      if (TextDocumentEdit.is(change) && typeof change.textDocument.version === 'number' && change.textDocument.version >= 0) {
        const doc = vscode.workspace.textDocuments.find((d) => sameUri(d.uri.toString(), change.textDocument.uri));
        if (doc && doc.version !== change.textDocument.version) {
          return { applied: false };
        }
      }
    }
    return { applied: await vscode.workspace.applyEdit(converted) };
  }

  private show(notice: Notice): void {
    const message = `TTA Codegen: ${notice.message}`;
    if (notice.quiet) {
      vscode.window.setStatusBarMessage(`$(check) ${message}`, 8000);
    } else if (notice.severity === 'error') {
      void vscode.window.showErrorMessage(message);
    } else if (notice.severity === 'warning') {
      void vscode.window.showWarningMessage(message);
    } else {
      void vscode.window.showInformationMessage(message);
    }
  }

  dispose(): void {
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}

const WHAT: Partial<Record<string, string>> = {
  'tta.accept': 'Accept',
  'tta.discard': 'Discard',
  'tta.diff': 'Show Change Diff',
  'tta.regenerate': 'Regeneration',
  'tta.cancel': 'Cancel',
  'tta.generate': 'Generation',
  'tta.refine': 'Refinement',
  'tta.generateTests': 'Test generation',
};
