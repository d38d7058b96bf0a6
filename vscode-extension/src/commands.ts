/**
 * The palette commands (`ttaCodegen.*`): gather input, call the server's `tta.*`
 * command inside a cancellable notification, and tell the user how it went.
 *
 * Our own ids, not the server's: vscode-languageclient registers the server's `tta.*`
 * commands itself but calls them without a cancellation token, so the Cancel button
 * would do nothing. Here every generation is a request we can cancel.
 */
import * as vscode from 'vscode';
import {
  generateArgs,
  generateTestsArgs,
  LspRange,
  parsePrompts,
  PromptInfo,
  refineArgs,
  SERVER_COMMANDS,
  ServerCommandId,
} from './args';
import { describeAnswer, describeError, GenerationAnswer, Notice } from './answer';
import { defaultModel, modelsMarkdown, parseModels, parseStats, usageMarkdown } from './format';
import { SECTION, ServerManager } from './manager';
import { SecretEnv, validateEnvName, validateKey } from './secrets';
import { providerKeyNames } from './settings';
import { ReportDocuments, StatusBar } from './views';

const MODEL_KEY = 'ttaCodegen.selectedModel';

/** Arguments a keybinding or another extension may pass to `ttaCodegen.generate`. */
interface GenerateCommandArgs {
  description?: string;
  template?: string;
  variables?: Record<string, string>;
  model?: string;
}

function toRange(selection: vscode.Selection): LspRange {
  return {
    start: { line: selection.start.line, character: selection.start.character },
    end: { line: selection.end.line, character: selection.end.character },
  };
}

export class Commands implements vscode.Disposable {
  private readonly inFlight = new Set<vscode.CancellationTokenSource>();
  private sessionCost = 0;
  private statsAvailable = true;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly server: ServerManager,
    private readonly secrets: SecretEnv,
    private readonly status: StatusBar,
    private readonly reports: ReportDocuments,
  ) {}

  register(): vscode.Disposable[] {
    const reg = (id: string, fn: (...args: unknown[]) => unknown): vscode.Disposable =>
      vscode.commands.registerCommand(id, async (...args: unknown[]) => {
        try {
          await fn(...args);
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          this.server.log(`${id}: ${message}`);
          void vscode.window.showErrorMessage(`TTA Codegen: ${message}`);
        }
      });
    return [
      reg('ttaCodegen.generate', (arg) => this.generate(arg as GenerateCommandArgs | undefined)),
      reg('ttaCodegen.refine', (arg) => this.refine(arg as { instruction?: string } | undefined)),
      reg('ttaCodegen.generateTests', () => this.generateTests()),
      reg('ttaCodegen.pickTemplate', () => this.pickTemplate()),
      reg('ttaCodegen.showModels', () => this.showModels()),
      reg('ttaCodegen.showUsage', () => this.showUsage()),
      reg('ttaCodegen.selectModel', () => this.selectModel()),
      reg('ttaCodegen.cancel', () => this.cancel()),
      reg('ttaCodegen.restartServer', () => this.restart()),
      reg('ttaCodegen.setApiKey', () => this.setApiKey()),
      reg('ttaCodegen.showOutput', () => this.server.channel.show(true)),
    ];
  }

  get selectedModel(): string | undefined {
    return this.context.workspaceState.get<string>(MODEL_KEY) || undefined;
  }

  private editor(): vscode.TextEditor {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      throw new Error('Open a file in an editor first.');
    }
    return editor;
  }

  private uri(document: vscode.TextDocument): string {
    return document.uri.toString();
  }

  async generate(arg?: GenerateCommandArgs): Promise<void> {
    const editor = this.editor();
    let description = arg?.description;
    if (description === undefined) {
      description = await vscode.window.showInputBox({
        title: 'TTA Codegen: Generate Code',
        prompt: 'Describe the code to generate at the cursor',
        placeHolder: 'e.g. a function is_prime(n) that returns True for primes',
        ignoreFocusOut: true,
        validateInput: (v) => (v.trim() ? undefined : 'Describe what to generate.'),
      });
      if (description === undefined) {
        return;
      }
    }
    const input: Parameters<typeof generateArgs>[0] = {
      uri: this.uri(editor.document),
      position: { line: editor.selection.active.line, character: editor.selection.active.character },
      description,
    };
    if (arg?.template) input.template = arg.template;
    if (arg?.variables) input.variables = arg.variables;
    const model = arg?.model ?? this.selectedModel;
    if (model) input.model = model;
    await this.run('Generation', SERVER_COMMANDS.generate, generateArgs(input));
  }

  async refine(arg?: { instruction?: string }): Promise<void> {
    const editor = this.editor();
    if (editor.selection.isEmpty) {
      throw new Error('Select the code to refine first.');
    }
    let instruction = arg?.instruction;
    if (instruction === undefined) {
      instruction = await vscode.window.showInputBox({
        title: 'TTA Codegen: Refine Selection',
        prompt: 'How should the selected code change?',
        placeHolder: 'e.g. add type hints and docstrings',
        ignoreFocusOut: true,
        validateInput: (v) => (v.trim() ? undefined : 'Say how the code should change.'),
      });
      if (instruction === undefined) {
        return;
      }
    }
    const input: Parameters<typeof refineArgs>[0] = {
      uri: this.uri(editor.document),
      range: toRange(editor.selection),
      instruction,
    };
    if (this.selectedModel) input.model = this.selectedModel;
    await this.run('Refinement', SERVER_COMMANDS.refine, refineArgs(input));
  }

  async generateTests(): Promise<void> {
    const editor = this.editor();
    const input: Parameters<typeof generateTestsArgs>[0] = { uri: this.uri(editor.document) };
    if (!editor.selection.isEmpty) input.range = toRange(editor.selection);
    if (this.selectedModel) input.model = this.selectedModel;
    await this.run('Test generation', SERVER_COMMANDS.generateTests, generateTestsArgs(input));
  }

  async pickTemplate(): Promise<void> {
    this.editor();
    const prompts = parsePrompts(await this.query(SERVER_COMMANDS.listPrompts, 'Listing prompt templates'));
    if (prompts.length === 0) {
      void vscode.window.showInformationMessage('TTA Codegen: the server offers no prompt templates.');
      return;
    }
    type Item = vscode.QuickPickItem & { prompt: PromptInfo };
    const items: Item[] = prompts.map((p) => ({
      label: p.title,
      description: [p.category, p.id].filter(Boolean).join(' · '),
      detail: p.description ?? '',
      prompt: p,
    }));
    const picked = await vscode.window.showQuickPick(items, {
      title: 'TTA Codegen: Pick Prompt Template',
      placeHolder: 'A template from the prompt library',
      matchOnDescription: true,
      matchOnDetail: true,
      ignoreFocusOut: true,
    });
    if (!picked) {
      return;
    }
    const variables: Record<string, string> = {};
    for (const v of picked.prompt.variables) {
      const value = await vscode.window.showInputBox({
        title: `${picked.prompt.title}: ${v.name}${v.required ? '' : ' (optional)'}`,
        prompt: v.description ?? v.name,
        value: v.default ?? '',
        placeHolder: v.example ? `e.g. ${v.example}` : '',
        ignoreFocusOut: true,
        validateInput: (s) => (v.required && !s.trim() ? `${v.name} is required.` : undefined),
      });
      if (value === undefined) {
        return;
      }
      if (value !== '') {
        variables[v.name] = value;
      }
    }
    const description = await vscode.window.showInputBox({
      title: `${picked.prompt.title}: extra instructions`,
      prompt: 'Anything else the code should do (optional)',
      ignoreFocusOut: true,
    });
    if (description === undefined) {
      return;
    }
    await this.generate({ description, template: picked.prompt.id, variables });
  }

  async showModels(): Promise<void> {
    const models = parseModels(await this.query(SERVER_COMMANDS.listModels, 'Listing models'));
    await this.reports.show('models.md', modelsMarkdown(models, this.selectedModel));
  }

  async showUsage(): Promise<void> {
    let stats: unknown;
    try {
      stats = await this.server.request(SERVER_COMMANDS.stats, {});
    } catch (error) {
      const notice = describeError('Usage', SERVER_COMMANDS.stats, error);
      await this.reports.show(
        'usage.md',
        `# TTA Codegen usage & cost\n\n${notice.message}\n\nThis session: ${this.sessionCost.toFixed(4)} USD.\n`,
      );
      return;
    }
    await this.reports.show('usage.md', usageMarkdown(parseStats(stats)));
    await this.refreshStatus();
  }

  async selectModel(): Promise<void> {
    const models = parseModels(await this.query(SERVER_COMMANDS.listModels, 'Listing models'));
    const fallback = defaultModel(models);
    type Item = vscode.QuickPickItem & { id: string | undefined };
    const items: Item[] = [
      {
        label: '$(sync) Route automatically',
        description: fallback ? `default: ${fallback.id}` : '',
        detail: 'Let the server pick by task, routing settings and budget.',
        id: undefined,
      },
      ...models.map((m) => ({
        label: m.id,
        description: [m.provider, m.free ? 'free' : '', m.isDefault ? 'default' : '', m.id === this.selectedModel ? '$(check) selected' : '']
          .filter(Boolean)
          .join(' · '),
        id: m.id,
      })),
    ];
    const picked = await vscode.window.showQuickPick(items, { title: 'TTA Codegen: Select Model', ignoreFocusOut: true });
    if (!picked) {
      return;
    }
    await this.context.workspaceState.update(MODEL_KEY, picked.id);
    await this.refreshStatus();
  }

  cancel(): void {
    if (this.inFlight.size === 0) {
      void vscode.window.showInformationMessage('TTA Codegen: nothing is being generated.');
      return;
    }
    for (const cts of this.inFlight) {
      cts.cancel();
    }
  }

  async restart(): Promise<void> {
    await this.server.restart();
    await this.refreshStatus();
  }

  async setApiKey(): Promise<void> {
    const configured = providerKeyNames(vscode.workspace.getConfiguration(SECTION).get('providers'));
    const stored = this.secrets.storedNames();
    const candidates = [...new Set([...configured, ...stored])].sort();
    let name: string | undefined;
    if (candidates.length > 0) {
      const other = '$(edit) Another variable…';
      const picked = await vscode.window.showQuickPick(
        [
          ...candidates.map((n) => ({
            label: n,
            description: [configured.includes(n) ? 'used by a provider' : '', stored.includes(n) ? 'key stored' : '']
              .filter(Boolean)
              .join(' · '),
          })),
          { label: other, description: '' },
        ],
        { title: 'TTA Codegen: Set API Key — environment variable', ignoreFocusOut: true },
      );
      if (!picked) {
        return;
      }
      name = picked.label === other ? undefined : picked.label;
    }
    if (name === undefined) {
      name = await vscode.window.showInputBox({
        title: 'TTA Codegen: Set API Key — environment variable',
        prompt: "The environment variable a provider's api_key_env names",
        placeHolder: 'OPENROUTER_API_KEY',
        ignoreFocusOut: true,
        validateInput: validateEnvName,
      });
      if (name === undefined) {
        return;
      }
      name = name.trim();
    }
    const key = await vscode.window.showInputBox({
      title: `TTA Codegen: Set API Key — ${name}`,
      prompt: `The key for ${name}. It is kept in VS Code's secret storage and given to the server as an environment variable; leave empty to remove it.`,
      password: true,
      ignoreFocusOut: true,
      validateInput: validateKey,
    });
    if (key === undefined) {
      return;
    }
    if (key.trim() === '') {
      await this.secrets.delete(name);
      this.server.log(`removed the key for ${name}`);
    } else {
      this.server.redactor.addSecret(key.trim());
      await this.secrets.set(name, key);
      this.server.log(`stored a key for ${name}`);
    }
    await this.server.restart();
    await this.refreshStatus();
    void vscode.window.showInformationMessage(
      key.trim() === ''
        ? `TTA Codegen: removed the key for ${name}; the server was restarted.`
        : `TTA Codegen: stored the key for ${name}; the server was restarted with it.`,
    );
  }

  /** A quick request (listing) with a window progress; errors are shown, result may be undefined. */
  private async query(command: ServerCommandId, title: string): Promise<unknown> {
    try {
      return await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: `TTA Codegen: ${title}` },
        () => this.server.request(command, {}),
      );
    } catch (error) {
      throw new Error(describeError(title, command, error).message);
    }
  }

  /** One generation: a cancellable notification bound to the server's progress. */
  private async run(what: string, command: ServerCommandId, argument: Record<string, unknown>): Promise<void> {
    const cts = new vscode.CancellationTokenSource();
    this.inFlight.add(cts);
    await vscode.commands.executeCommand('setContext', 'ttaCodegen.generating', true);
    this.server.log(`${command} started`);
    let notice: Notice;
    try {
      notice = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `TTA Codegen: ${what}`, cancellable: true },
        async (progress, token) => {
          const link = token.onCancellationRequested(() => cts.cancel());
          progress.report({ message: 'starting…' });
          try {
            const answer = await this.server.request(command, argument, cts.token, (message) =>
              progress.report({ message }),
            );
            const cost = (answer as GenerationAnswer | null)?.cost_usd;
            if (typeof cost === 'number' && Number.isFinite(cost)) {
              this.sessionCost += cost;
            }
            const status = (answer as GenerationAnswer | null)?.status ?? 'done';
            this.server.log(`${command} ${status}${(answer as GenerationAnswer | null)?.error ? `: ${(answer as GenerationAnswer).error}` : ''}`);
            return describeAnswer(what, answer);
          } catch (error) {
            this.server.log(`${command} error: ${error instanceof Error ? error.message : String(error)}`);
            return describeError(what, command, error);
          } finally {
            link.dispose();
          }
        },
      );
    } finally {
      this.inFlight.delete(cts);
      cts.dispose();
      await vscode.commands.executeCommand('setContext', 'ttaCodegen.generating', this.inFlight.size > 0);
    }
    this.show(notice);
    void this.refreshStatus();
  }

  private show(notice: Notice): void {
    const message = `TTA Codegen: ${notice.message}`;
    if (notice.quiet) {
      vscode.window.setStatusBarMessage(`$(check) ${message}`, 8000);
    } else if (notice.severity === 'error') {
      void vscode.window.showErrorMessage(message, 'Show Output').then((choice) => {
        if (choice) {
          this.server.channel.show(true);
        }
      });
    } else if (notice.severity === 'warning') {
      void vscode.window.showWarningMessage(message);
    } else {
      void vscode.window.showInformationMessage(message);
    }
  }

  /** Model and today's cost for the status bar; quiet about servers without these commands. */
  async refreshStatus(): Promise<void> {
    this.status.running = this.server.running;
    if (this.server.running) {
      try {
        const models = parseModels(await this.server.request(SERVER_COMMANDS.listModels, {}));
        this.status.model = this.selectedModel ?? defaultModel(models)?.id;
      } catch {
        this.status.model = this.selectedModel;
      }
      if (this.statsAvailable) {
        try {
          this.status.costToday = parseStats(await this.server.request(SERVER_COMMANDS.stats, {})).costToday;
        } catch (error) {
          const notice = describeError('Usage', SERVER_COMMANDS.stats, error);
          if (notice.message.includes('not available')) {
            this.statsAvailable = false; // an older server: use what this session spent
          }
        }
      }
      if (!this.statsAvailable) {
        this.status.costToday = this.sessionCost;
      }
    }
    this.status.render();
  }

  dispose(): void {
    for (const cts of this.inFlight) {
      cts.cancel();
    }
  }
}
