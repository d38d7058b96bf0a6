/**
 * The contract's `workspace/executeCommand` arguments, built from editor state.
 *
 * Pure: positions and ranges are plain LSP objects (VS Code's `Position`/`Range` have the
 * same `line`/`character` fields, both UTF-16), so the mapping is unit-tested without VS
 * Code. Optional fields are omitted rather than sent empty: the server treats an absent
 * `model` as "route by configuration", and an empty string would be a model id.
 */

export interface LspPosition {
  line: number;
  character: number;
}

export interface LspRange {
  start: LspPosition;
  end: LspPosition;
}

export const SERVER_COMMANDS = {
  generate: 'tta.generate',
  refine: 'tta.refine',
  generateTests: 'tta.generateTests',
  listPrompts: 'tta.listPrompts',
  listModels: 'tta.listModels',
  stats: 'tta.stats',
  accept: 'tta.accept',
  discard: 'tta.discard',
  diff: 'tta.diff',
  regenerate: 'tta.regenerate',
  listPending: 'tta.listPending',
  cancel: 'tta.cancel',
} as const;

export type ServerCommandId = (typeof SERVER_COMMANDS)[keyof typeof SERVER_COMMANDS];

export interface GenerateInput {
  uri: string;
  position: LspPosition;
  description: string;
  template?: string;
  variables?: Record<string, string>;
  model?: string;
}

export interface RefineInput {
  uri: string;
  range: LspRange;
  instruction: string;
  model?: string;
}

export interface TestsInput {
  uri: string;
  /** The selection; an empty selection means "the whole file". */
  range?: LspRange;
  model?: string;
}

function pos(p: LspPosition): LspPosition {
  return { line: p.line, character: p.character };
}

function isEmptyRange(r: LspRange): boolean {
  return r.start.line === r.end.line && r.start.character === r.end.character;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value : undefined;
}

export function generateArgs(input: GenerateInput): Record<string, unknown> {
  const out: Record<string, unknown> = {
    textDocument: { uri: input.uri },
    position: pos(input.position),
    description: input.description,
  };
  const template = nonEmpty(input.template);
  if (template) {
    out.template = template;
  }
  const variables = Object.fromEntries(
    Object.entries(input.variables ?? {}).filter(([, v]) => v !== undefined && v !== ''),
  );
  if (Object.keys(variables).length > 0) {
    out.variables = variables;
  }
  const model = nonEmpty(input.model);
  if (model) {
    out.model = model;
  }
  return out;
}

export function refineArgs(input: RefineInput): Record<string, unknown> {
  if (isEmptyRange(input.range)) {
    throw new Error('Select the code to refine first.');
  }
  const instruction = input.instruction.trim();
  if (!instruction) {
    throw new Error('The instruction is empty.');
  }
  const out: Record<string, unknown> = {
    textDocument: { uri: input.uri },
    range: { start: pos(input.range.start), end: pos(input.range.end) },
    instruction,
  };
  const model = nonEmpty(input.model);
  if (model) {
    out.model = model;
  }
  return out;
}

export function generateTestsArgs(input: TestsInput): Record<string, unknown> {
  const out: Record<string, unknown> = { textDocument: { uri: input.uri } };
  if (input.range && !isEmptyRange(input.range)) {
    out.range = { start: pos(input.range.start), end: pos(input.range.end) };
  }
  const model = nonEmpty(input.model);
  if (model) {
    out.model = model;
  }
  return out;
}

/** `ExecuteCommandParams`: one object argument, and our progress token when we have one. */
export function executeParams(
  command: ServerCommandId,
  argument: Record<string, unknown>,
  workDoneToken?: string,
): { command: string; arguments: unknown[]; workDoneToken?: string } {
  const params: { command: string; arguments: unknown[]; workDoneToken?: string } = {
    command,
    arguments: [argument],
  };
  if (workDoneToken !== undefined) {
    params.workDoneToken = workDoneToken;
  }
  return params;
}

/** A prompt template as `tta.listPrompts` describes it. */
export interface PromptVariable {
  name: string;
  required: boolean;
  default?: string;
  description?: string;
  example?: string;
}

export interface PromptInfo {
  id: string;
  title: string;
  category?: string;
  description?: string;
  variables: PromptVariable[];
}

/** Reads `tta.listPrompts`' answer defensively: a server mid-upgrade may send less. */
export function parsePrompts(value: unknown): PromptInfo[] {
  if (!Array.isArray(value)) {
    return [];
  }
  const out: PromptInfo[] = [];
  for (const item of value) {
    if (typeof item !== 'object' || item === null) {
      continue;
    }
    const rec = item as Record<string, unknown>;
    if (typeof rec.id !== 'string' || !rec.id) {
      continue;
    }
    const variables: PromptVariable[] = [];
    if (Array.isArray(rec.variables)) {
      for (const v of rec.variables) {
        if (typeof v !== 'object' || v === null) {
          continue;
        }
        const vr = v as Record<string, unknown>;
        if (typeof vr.name !== 'string' || !vr.name) {
          continue;
        }
        const variable: PromptVariable = { name: vr.name, required: vr.required === true };
        if (vr.default !== undefined && vr.default !== null) {
          variable.default = String(vr.default);
        }
        if (typeof vr.description === 'string') {
          variable.description = vr.description;
        }
        if (vr.example !== undefined && vr.example !== null) {
          variable.example = String(vr.example);
        }
        variables.push(variable);
      }
    }
    const info: PromptInfo = {
      id: rec.id,
      title: typeof rec.title === 'string' && rec.title ? rec.title : rec.id,
      variables,
    };
    if (typeof rec.category === 'string') {
      info.category = rec.category;
    }
    if (typeof rec.description === 'string') {
      info.description = rec.description;
    }
    out.push(info);
  }
  return out;
}
