/**
 * Entry point: wires the server manager, commands, status bar and report documents.
 *
 * Following Microsoft's Python tools extension template, this side only launches the
 * Python language server (`tta-codegen serve`), forwards settings and keys, and
 * registers UI commands; code actions, lenses and every generation come from the server.
 */
import * as vscode from 'vscode';
import { Commands } from './commands';
import { InlineCompletion } from './inline';
import { ServerManager } from './manager';
import { onInterpreterChange } from './python';
import { ORIGINAL_SCHEME } from './review';
import { OriginalDocuments, ReviewController } from './reviewUi';
import { Redactor, SecretEnv } from './secrets';
import { toClientSettings } from './settings';
import { ReportDocuments, SCHEME, StatusBar } from './views';

let manager: ServerManager | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const secrets = new SecretEnv(context.secrets, context.globalState);
  manager = new ServerManager(secrets, new Redactor());
  const status = new StatusBar();
  const reports = new ReportDocuments();
  const commands = new Commands(context, manager, secrets, status, reports);
  const originals = new OriginalDocuments();
  const review = new ReviewController(manager, originals);
  manager.hooks = {
    executeCommand: (command, args, next) => review.executeCommand(command, args, next),
    applyEdit: (client, params) => review.applyEdit(client, params),
    around: (command, run) => review.around(command, run),
  };
  context.subscriptions.push(
    originals,
    review,
    vscode.workspace.registerTextDocumentContentProvider(ORIGINAL_SCHEME, originals),
    ...review.register(),
    manager,
    status,
    reports,
    commands,
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, reports),
    ...commands.register(),
    manager.onDidChangeRunning(() => void commands.refreshStatus()),
    new InlineCompletion(manager),
  );
  const server = manager;
  const interpreterWatch = await onInterpreterChange(() => {
    const client = toClientSettings((key) => vscode.workspace.getConfiguration('ttaCodegen').get(key));
    if (!client.serverPath && !client.python) {
      void server.restart();
    }
  });
  if (interpreterWatch) {
    context.subscriptions.push(interpreterWatch);
  }
  // Not awaited: activation (and so every command) must not wait for Python to start;
  // a command issued meanwhile waits for the same start inside `ServerManager.ready`.
  void manager.start().then(() => commands.refreshStatus());
}

export async function deactivate(): Promise<void> {
  await manager?.stop();
  manager = undefined;
}
