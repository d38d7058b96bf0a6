/**
 * Review before keep, the pure part: the server's review answers, the pending change at
 * the cursor, the virtual "original" documents of the diff view, and which streamed
 * edits join one undo step.
 *
 * No `vscode` import, so all of it is unit-tested with `node --test`; `reviewUi.ts` is
 * the glue. Shapes follow the protocol contract (docs/protocol.md, "Code lenses"):
 * `tta.discard`/`tta.regenerate` may answer `{status: "refused", id, message, actions}`,
 * `tta.diff` answers `{id, uri, range, diff, original, current, original_document}`,
 * `tta.listPending` answers `[{id, uri, range, command, model}]`.
 */
import { LspPosition, LspRange } from './args';

/** The scheme of the read-only documents holding a pending change's original text. */
export const ORIGINAL_SCHEME = 'tta-original';

/** Commands that write generated code (their streamed edits form one undo step). */
export const GENERATING_COMMANDS: ReadonlySet<string> = new Set([
  'tta.generate',
  'tta.refine',
  'tta.generateTests',
  'tta.regenerate',
]);

/** The review commands a lens (or the palette) runs on a pending change. */
export const REVIEW_COMMANDS: ReadonlySet<string> = new Set([
  'tta.accept',
  'tta.discard',
  'tta.diff',
  'tta.regenerate',
  'tta.cancel',
]);

export interface PendingInfo {
  id: string;
  uri: string;
  range: LspRange;
  command?: string;
  model?: string | null;
}

export interface DiffAnswer {
  id: string;
  uri: string;
  range: LspRange;
  diff: string;
  original: string;
  current: string;
  originalDocument: string;
}

export interface OfferedAction {
  title: string;
  command: string;
  argument: Record<string, unknown>;
}

export interface Refusal {
  id?: string;
  message: string;
  actions: OfferedAction[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asPosition(value: unknown): LspPosition | undefined {
  if (!isRecord(value) || typeof value.line !== 'number' || typeof value.character !== 'number') {
    return undefined;
  }
  return { line: value.line, character: value.character };
}

export function asRange(value: unknown): LspRange | undefined {
  if (!isRecord(value)) {
    return undefined;
  }
  const start = asPosition(value.start);
  const end = asPosition(value.end);
  return start && end ? { start, end } : undefined;
}

/** `tta.listPending`'s answer; malformed entries are skipped, not fatal. */
export function parsePending(value: unknown): PendingInfo[] {
  if (!Array.isArray(value)) {
    return [];
  }
  const out: PendingInfo[] = [];
  for (const item of value) {
    if (!isRecord(item) || typeof item.id !== 'string' || typeof item.uri !== 'string') {
      continue;
    }
    const range = asRange(item.range);
    if (!range) {
      continue;
    }
    const info: PendingInfo = { id: item.id, uri: item.uri, range };
    if (typeof item.command === 'string') info.command = item.command;
    if (typeof item.model === 'string' || item.model === null) info.model = item.model;
    out.push(info);
  }
  return out;
}

/** `tta.diff`'s answer, or undefined when it is not one. */
export function parseDiff(value: unknown): DiffAnswer | undefined {
  if (!isRecord(value) || typeof value.id !== 'string' || typeof value.uri !== 'string') {
    return undefined;
  }
  const range = asRange(value.range);
  if (!range || typeof value.original_document !== 'string') {
    return undefined;
  }
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  return {
    id: value.id,
    uri: value.uri,
    range,
    diff: str(value.diff),
    original: str(value.original),
    current: str(value.current),
    originalDocument: value.original_document,
  };
}

/**
 * A `refused` answer (Discard or Regenerate after the user edited inside the change, or
 * while it is busy), with the actions the server offers (`Discard anyway`). Undefined
 * for any other answer. Actions without a command are dropped: a button must do something.
 */
export function parseRefusal(value: unknown): Refusal | undefined {
  if (!isRecord(value) || value.status !== 'refused') {
    return undefined;
  }
  const message =
    typeof value.message === 'string' && value.message.trim()
      ? value.message.trim()
      : 'the server refused without saying why';
  const actions: OfferedAction[] = [];
  if (Array.isArray(value.actions)) {
    for (const a of value.actions) {
      if (!isRecord(a) || typeof a.command !== 'string' || !a.command) {
        continue;
      }
      const args = Array.isArray(a.arguments) ? a.arguments : [];
      const argument = isRecord(args[0]) ? args[0] : {};
      actions.push({ title: typeof a.title === 'string' && a.title ? a.title : a.command, command: a.command, argument });
    }
  }
  const refusal: Refusal = { message, actions };
  if (typeof value.id === 'string') refusal.id = value.id;
  return refusal;
}

/** A failed review answer (`{status: "failed", error}`): the reason, else undefined. */
export function failureReason(value: unknown): string | undefined {
  if (!isRecord(value) || value.status !== 'failed') {
    return undefined;
  }
  return typeof value.error === 'string' && value.error.trim() ? value.error.trim() : 'the server gave no reason';
}

/** Two document URIs name the same file even when one side percent-encodes more (`%3A`). */
export function sameUri(a: string, b: string): boolean {
  if (a === b) {
    return true;
  }
  const norm = (u: string): string => {
    try {
      return decodeURIComponent(u);
    } catch {
      return u;
    }
  };
  return norm(a) === norm(b);
}

function lastLine(range: LspRange): number {
  // A region ending at column 0 of a line ends with the previous line's newline.
  return range.end.character === 0 && range.end.line > range.start.line ? range.end.line - 1 : range.end.line;
}

export type PendingChoice = { change: PendingInfo } | { error: string };

/**
 * The pending change the palette's review commands act on: the one whose lines hold the
 * cursor, else the only one in the document. With several and none at the cursor, the
 * user is told where to put it rather than guessing.
 */
export function pendingAtCursor(list: PendingInfo[], uri: string, cursor: LspPosition): PendingChoice {
  const here = list.filter((p) => sameUri(p.uri, uri));
  if (here.length === 0) {
    return { error: 'There is no pending change in this file (generate or refine code first).' };
  }
  const at = here.filter((p) => p.range.start.line <= cursor.line && cursor.line <= lastLine(p.range));
  if (at.length > 0) {
    // Nested cannot happen (the server refuses overlaps); adjacent ones share no line
    // unless one is empty: prefer the one that starts last, i.e. the innermost.
    at.sort((a, b) => b.range.start.line - a.range.start.line);
    return { change: at[0]! };
  }
  if (here.length === 1) {
    return { change: here[0]! };
  }
  const lines = here.map((p) => p.range.start.line + 1).join(', ');
  return {
    error: `There are ${here.length} pending changes in this file (at lines ${lines}): put the cursor inside the one you mean.`,
  };
}

/** The parts of the virtual document that shows a change's original text. */
export interface OriginalUriParts {
  scheme: string;
  path: string;
  query: string;
}

/**
 * `tta-original:/<file path>?id=<change id>`: the same path (so the diff view picks the
 * file's language and shows its name), one document per pending change.
 */
export function originalUriParts(fileUri: string, id: string): OriginalUriParts {
  const match = /^[a-z][a-z0-9+.-]*:(?:\/\/[^/]*)?(.*)$/i.exec(fileUri);
  let path = match ? (match[1] ?? '') : fileUri;
  try {
    path = decodeURIComponent(path);
  } catch {
    // not percent-encoded after all: keep it as it is
  }
  if (!path.startsWith('/')) {
    path = `/${path}`;
  }
  return { scheme: ORIGINAL_SCHEME, path, query: `id=${encodeURIComponent(id)}` };
}

/** The change id of a `tta-original:` document, from its query. */
export function originalId(query: string): string | undefined {
  for (const part of query.split('&')) {
    const [key, value] = part.split('=');
    if (key === 'id' && value) {
      try {
        return decodeURIComponent(value);
      } catch {
        return value;
      }
    }
  }
  return undefined;
}

/** The diff editor's title: `gen.py (original ↔ generated)`. */
export function diffTitle(fileUri: string): string {
  const path = originalUriParts(fileUri, '').path;
  const name = path.split('/').filter(Boolean).pop() ?? path;
  return `${name} (original ↔ generated)`;
}

/**
 * Which streamed edits form one undo step.
 *
 * While at least one generating command is in flight, edits to a document join that
 * document's open group: the first one pushes an undo stop before it, the next ones
 * none, so VS Code's undo stack holds the whole generation as one element. No stop is
 * needed after the last one: an edit an extension makes resets the editor's "previous
 * edit kind", so the user's next keystroke (and our next edit, e.g. Discard) starts a
 * new step by itself.
 */
export class UndoGroups {
  private inFlight = 0;
  private edits = 0;
  private readonly open = new Set<string>();

  begin(): void {
    this.inFlight++;
  }

  /**
   * Ends one generation; when none is left, the next edit starts a new step. Returns how
   * many edits the closed groups took (0 while another generation is still running).
   */
  end(): number {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (this.inFlight > 0) {
      return 0;
    }
    const edits = this.edits;
    this.edits = 0;
    this.open.clear();
    return edits;
  }

  get active(): boolean {
    return this.inFlight > 0;
  }

  /** Undo-stop options for an edit to `uri`, or undefined when it is not part of a generation. */
  options(uri: string): { undoStopBefore: boolean; undoStopAfter: boolean } | undefined {
    if (this.inFlight === 0) {
      return undefined;
    }
    return { undoStopBefore: !this.open.has(uri), undoStopAfter: false };
  }

  /**
   * Someone else (the user typing) changed `uri` mid-generation: our next edit starts a
   * new step rather than joining theirs, so undo never takes the user's typing with it.
   */
  interrupted(uri: string): void {
    this.open.delete(uri);
  }

  /** The edit to `uri` was applied: later edits join its step. */
  applied(uri: string): void {
    if (this.inFlight > 0) {
      this.open.add(uri);
      this.edits++;
    }
  }
}

export interface PlainTextEdit {
  range: LspRange;
  newText: string;
}

/** A workspace edit that only changes text in one document: what we can apply in an editor. */
export interface SingleDocumentEdit {
  uri: string;
  /** The document version the server computed the edit against; null when unversioned. */
  version: number | null;
  edits: PlainTextEdit[];
}

function asTextEdits(value: unknown): PlainTextEdit[] | undefined {
  if (!Array.isArray(value)) {
    return undefined;
  }
  const out: PlainTextEdit[] = [];
  for (const e of value) {
    // Snippet or annotated edits carry more than text: leave them to the default handler.
    if (!isRecord(e) || typeof e.newText !== 'string' || 'annotationId' in e || 'snippet' in e) {
      return undefined;
    }
    const range = asRange(e.range);
    if (!range) {
      return undefined;
    }
    out.push({ range, newText: e.newText });
  }
  return out;
}

/**
 * `ApplyWorkspaceEditParams.edit` as a single-document text edit, or undefined when it is
 * anything else (resource operations, several documents, change annotations): those go
 * through the language client's own handler.
 */
export function singleDocumentEdit(edit: unknown): SingleDocumentEdit | undefined {
  if (!isRecord(edit)) {
    return undefined;
  }
  if (Array.isArray(edit.documentChanges)) {
    if (edit.documentChanges.length !== 1 || edit.changes !== undefined) {
      return undefined;
    }
    const change = edit.documentChanges[0];
    if (!isRecord(change) || 'kind' in change || !isRecord(change.textDocument)) {
      return undefined;
    }
    const doc = change.textDocument;
    if (typeof doc.uri !== 'string') {
      return undefined;
    }
    const edits = asTextEdits(change.edits);
    if (!edits) {
      return undefined;
    }
    const version = typeof doc.version === 'number' ? doc.version : null;
    return { uri: doc.uri, version, edits };
  }
  if (isRecord(edit.changes)) {
    const uris = Object.keys(edit.changes);
    if (uris.length !== 1) {
      return undefined;
    }
    const edits = asTextEdits(edit.changes[uris[0]!]);
    return edits ? { uri: uris[0]!, version: null, edits } : undefined;
  }
  return undefined;
}
