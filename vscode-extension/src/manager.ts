/**
 * The tta-codegen language server process and its client: start, restart with backoff,
 * settings forwarding, and requests with cancellation and progress.
 *
 * The extension only launches the server and forwards things; every feature is the
 * server's. Settings go both ways the contract allows: `initializationOptions` at start
 * and the answer to `workspace/configuration` (section `ttaCodegen`), and
 * `didChangeConfiguration` carries changes. API keys reach the process as environment
 * variables and nothing else; the output channel redacts them.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as vscode from 'vscode';
import {
  ApplyWorkspaceEditParams,
  ApplyWorkspaceEditRequest,
  ApplyWorkspaceEditResult,
  CloseAction,
  DidChangeConfigurationNotification,
  ErrorAction,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  State,
  TransportKind,
  WorkDoneProgress,
} from 'vscode-languageclient/node';
import { executeParams, ServerCommandId } from './args';
import { RestartPolicy } from './backoff';
import { describeCommand, resolveServerCommand, ServerCommand } from './launch';
import { activeInterpreter } from './python';
import { Redactor, RedactingSink, SecretEnv, serverEnvironment } from './secrets';
import { initializationOptions, toClientSettings, toServerSettings, TRUST_NOTIFICATION } from './settings';

export const SECTION = 'ttaCodegen';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An output channel whose every line passes through the redactor. */
function redactingChannel(channel: vscode.OutputChannel, sink: RedactingSink): vscode.OutputChannel {
  return {
    name: channel.name,
    append: (value: string) => sink.append(value),
    appendLine: (value: string) => sink.appendLine(value),
    replace: (value: string) => sink.replace(value),
    clear: () => channel.clear(),
    show: (a?: unknown, b?: boolean) => {
      if (typeof a === 'boolean') {
        channel.show(a);
      } else {
        channel.show(b);
      }
    },
    hide: () => channel.hide(),
    dispose: () => {
      sink.flush();
      channel.dispose();
    },
  };
}

export function serverSettings(scope?: vscode.Uri): Record<string, unknown> {
  const config = vscode.workspace.getConfiguration(SECTION, scope);
  return toServerSettings((key) => config.get(key));
}

/** What the review side plugs into every client this manager starts. */
export interface ClientHooks {
  /** Lens clicks and code actions that run a server command (instead of the client's default). */
  executeCommand?(command: string, args: unknown[], next: (command: string, args: unknown[]) => unknown): unknown;
  /** `workspace/applyEdit` (instead of the client's default). */
  applyEdit?(client: LanguageClient, params: ApplyWorkspaceEditParams): Promise<ApplyWorkspaceEditResult>;
  /** Wraps every command request (one undo step per generation). */
  around?<T>(command: string, run: () => Promise<T>): Promise<T>;
}

export class ServerManager implements vscode.Disposable {
  /** Set before the first start; every (re)started client uses them. */
  hooks: ClientHooks = {};
  readonly channel: vscode.OutputChannel;
  private readonly sink: RedactingSink;
  private client: LanguageClient | undefined;
  private starting: Promise<LanguageClient | undefined> | undefined;
  private readonly policy = new RestartPolicy();
  private readonly stateEmitter = new vscode.EventEmitter<boolean>();
  private readonly disposables: vscode.Disposable[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private complaining = false;
  /** Fires with `true` when the server is running, `false` when it stopped. */
  readonly onDidChangeRunning = this.stateEmitter.event;

  constructor(
    private readonly secrets: SecretEnv,
    readonly redactor: Redactor,
  ) {
    const raw = vscode.window.createOutputChannel('TTA Codegen');
    this.sink = new RedactingSink(raw, redactor);
    this.channel = redactingChannel(raw, this.sink);
    // stderr arrives in chunks; a partial line is written after a short pause.
    this.flushTimer = setInterval(() => this.sink.flush(), 500);
    this.disposables.push(
      raw,
      vscode.workspace.onDidChangeConfiguration((e) => this.onConfigurationChanged(e)),
      // Trust can only be granted within a session (withdrawing it reloads the window).
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.onTrustGranted()),
    );
  }

  private onTrustGranted(): void {
    this.log('workspace trust granted: the workspace config may now name providers and gates');
    const client = this.client;
    if (client?.state === State.Running) {
      void client.sendNotification(TRUST_NOTIFICATION, { trusted: true });
    }
  }

  get running(): boolean {
    return this.client?.state === State.Running;
  }

  log(message: string): void {
    this.channel.appendLine(`[${new Date().toISOString()}] ${message}`);
  }

  private async command(): Promise<ServerCommand> {
    const client = toClientSettings((key) => vscode.workspace.getConfiguration(SECTION).get(key));
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const needInterpreter = !client.serverPath.trim() && !client.python.trim();
    const ctx: Parameters<typeof resolveServerCommand>[1] = { home: os.homedir() };
    if (folder !== undefined) {
      ctx.workspaceFolder = folder;
    }
    if (needInterpreter) {
      const active = await activeInterpreter(vscode.workspace.workspaceFolders?.[0]?.uri);
      if (active) {
        ctx.activeInterpreter = active;
      }
    }
    return resolveServerCommand({ serverPath: client.serverPath, python: client.python }, ctx);
  }

  /** Starts the server unless it runs; resolves to the client, or undefined when it could not start. */
  start(): Promise<LanguageClient | undefined> {
    if (this.client && this.client.state !== State.Stopped) {
      return this.starting ?? Promise.resolve(this.client);
    }
    this.starting = this.doStart().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async doStart(): Promise<LanguageClient | undefined> {
    const cmd = await this.command();
    const keys = await this.secrets.environment();
    this.redactor.setSecrets(Object.values(keys));
    if (cmd.command.includes('/') && !fs.existsSync(cmd.command)) {
      const message = `TTA Codegen: the server executable ${cmd.command} does not exist (from ttaCodegen.${cmd.source}).`;
      this.log(message);
      void this.complain(message);
      return undefined;
    }
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const serverOptions: ServerOptions = {
      command: cmd.command,
      args: cmd.args,
      transport: TransportKind.stdio,
      options: {
        env: serverEnvironment(process.env, keys),
        ...(folder !== undefined ? { cwd: folder } : {}),
      },
    };
    const names = Object.keys(keys);
    this.log(
      `starting ${describeCommand(cmd)} (from ${cmd.source})` +
        (names.length > 0 ? ` with API keys in ${names.join(', ')}` : ''),
    );
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      outputChannel: this.channel,
      traceOutputChannel: this.channel,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: initializationOptions(serverSettings(), vscode.workspace.isTrusted),
      errorHandler: {
        error: (_error, _message, count) =>
          count !== undefined && count <= 3 ? { action: ErrorAction.Continue } : { action: ErrorAction.Shutdown },
        closed: async () => {
          this.stateEmitter.fire(false);
          const decision = this.policy.crashed(Date.now());
          if (!decision.restart) {
            const message = `The tta-codegen server stopped ${decision.crashes - 1} times in a row and will not be restarted. See the "TTA Codegen" output, fix the cause, then run "TTA Codegen: Restart Server".`;
            void this.complain(message);
            return { action: CloseAction.DoNotRestart, message, handled: true };
          }
          this.log(
            `the server stopped unexpectedly; restarting in ${decision.delayMs / 1000} s (attempt ${decision.crashes})`,
          );
          await sleep(decision.delayMs);
          return { action: CloseAction.Restart, handled: true };
        },
      },
      middleware: {
        executeCommand: (command, args, next) =>
          this.hooks.executeCommand ? this.hooks.executeCommand(command, args, next) : next(command, args),
        workspace: {
          // The server asks for section `ttaCodegen`: answer with the server's keys only.
          configuration: async (params, token, next) => {
            const answers = await next(params, token);
            return params.items.map((item, i) => {
              if (item.section === SECTION) {
                return serverSettings(item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined);
              }
              return Array.isArray(answers) ? answers[i] : null;
            });
          },
        },
      },
    };
    const client = new LanguageClient(SECTION, 'TTA Codegen', serverOptions, clientOptions);
    this.client = client;
    const applyEdit = this.hooks.applyEdit;
    if (applyEdit) {
      // Registered before start, so it replaces the client's own handler (which the client
      // installs first) on this and every restarted connection.
      client.onRequest(ApplyWorkspaceEditRequest.type, (params) => applyEdit(client, params));
    }
    client.onDidChangeState((e) => {
      if (e.newState === State.Running) {
        this.policy.started(Date.now());
        this.stateEmitter.fire(true);
      } else if (e.newState === State.Stopped) {
        this.stateEmitter.fire(false);
      }
    });
    try {
      await client.start();
    } catch (error) {
      const message = `TTA Codegen: the server did not start (${describeCommand(cmd)}): ${error instanceof Error ? error.message : String(error)}`;
      this.log(message);
      void this.complain(message);
      return undefined;
    }
    this.log('server running');
    return client;
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) {
      return;
    }
    try {
      if (client.state !== State.Stopped) {
        await client.stop(5000);
      }
    } catch (error) {
      this.log(`stopping the server: ${error instanceof Error ? error.message : String(error)}`);
    }
    await client.dispose().catch(() => undefined);
    this.stateEmitter.fire(false);
  }

  async restart(): Promise<LanguageClient | undefined> {
    this.log('restarting the server');
    this.policy.reset();
    await this.stop();
    return this.start();
  }

  /** The running client, starting it when needed; throws a readable error when it cannot run. */
  async ready(): Promise<LanguageClient> {
    const client = this.running ? this.client : await this.start();
    if (!client || client.state !== State.Running) {
      throw new Error('client is not running');
    }
    return client;
  }

  /**
   * `workspace/executeCommand` with one object argument. `token` cancels it
   * (`$/cancelRequest`); `onProgress` receives the server's work-done messages for the
   * token we hand it.
   */
  async request(
    command: ServerCommandId,
    argument: Record<string, unknown>,
    token?: vscode.CancellationToken,
    onProgress?: (message: string) => void,
  ): Promise<unknown> {
    const client = await this.ready();
    let progressToken: string | undefined;
    let subscription: vscode.Disposable | undefined;
    if (onProgress) {
      progressToken = `tta-codegen-${randomUUID()}`;
      subscription = client.onProgress(WorkDoneProgress.type, progressToken, (value) => {
        if (value.kind !== 'end' && value.message) {
          onProgress(value.message);
        }
      });
    }
    const send = (): Promise<unknown> =>
      client.sendRequest(ExecuteCommandRequest.type, executeParams(command, argument, progressToken), token);
    try {
      return await (this.hooks.around ? this.hooks.around(command, send) : send());
    } finally {
      subscription?.dispose();
    }
  }

  private async onConfigurationChanged(e: vscode.ConfigurationChangeEvent): Promise<void> {
    if (!e.affectsConfiguration(SECTION)) {
      return;
    }
    if (e.affectsConfiguration(`${SECTION}.server.path`) || e.affectsConfiguration(`${SECTION}.python`)) {
      await this.restart();
      return;
    }
    const client = this.client;
    if (client && client.state === State.Running) {
      await client
        .sendNotification(DidChangeConfigurationNotification.type, { settings: { [SECTION]: serverSettings() } })
        .catch((error: unknown) => this.log(`didChangeConfiguration failed: ${String(error)}`));
    }
  }

  private async complain(message: string): Promise<void> {
    // One toast at a time: a server that fails to start would otherwise stack them up.
    if (this.complaining) {
      return;
    }
    this.complaining = true;
    const choice = await vscode.window.showErrorMessage(message, 'Show Output', 'Open Settings');
    this.complaining = false;
    if (choice === 'Show Output') {
      this.channel.show(true);
    } else if (choice === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', SECTION);
    }
  }

  dispose(): void {
    if (this.flushTimer) {
      clearInterval(this.flushTimer);
      this.flushTimer = undefined;
    }
    void this.stop();
    this.stateEmitter.dispose();
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}
