/**
 * What the user is told about a command's answer or error.
 *
 * Pure. The server answers generation commands with `{status, model, error?, gates, ...}`
 * (protocol.md), or fails the request with a JSON-RPC error; a cancel may come back
 * either as `status: "cancelled"` or as RequestCancelled (-32800). Servers older than a
 * command answer MethodNotFound, or (pygls) InvalidParams "Command name 'tta.x' is not
 * defined": say which command is missing.
 */

export type Severity = 'info' | 'warning' | 'error';

export interface Notice {
  severity: Severity;
  message: string;
  /** Completed work is announced in the status bar, not in a toast. */
  quiet?: boolean;
}

export interface GenerationAnswer {
  status?: string;
  text?: string;
  model?: string;
  error?: string;
  attempts?: { model?: string; error?: string }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number; estimated?: boolean };
  cost_usd?: number;
  gates?: { name?: string; passed?: boolean; message?: string }[];
  review?: { id?: string };
}

export const REQUEST_CANCELLED = -32800;
export const SERVER_CANCELLED = -32802;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;

function formatCost(usd: number | undefined): string {
  if (usd === undefined || !Number.isFinite(usd)) {
    return '';
  }
  return usd === 0 ? '$0.00' : usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

export function describeAnswer(what: string, answer: unknown): Notice {
  if (typeof answer !== 'object' || answer === null) {
    return { severity: 'info', message: `${what}: done.`, quiet: true };
  }
  const a = answer as GenerationAnswer;
  if (a.status === 'cancelled') {
    return { severity: 'info', message: `${what} cancelled; the document was restored.` };
  }
  if (a.status === 'failed') {
    const reason = a.error?.trim() || 'the server gave no reason';
    const tried = (a.attempts ?? [])
      .filter((t) => t.model && t.error)
      .map((t) => `${t.model}: ${t.error}`);
    const detail = tried.length > 0 && !reason.includes(tried[0]!) ? ` (tried ${tried.join('; ')})` : '';
    return { severity: 'error', message: `${what} failed: ${reason}${detail}` };
  }
  const parts: string[] = [];
  if (a.model) {
    parts.push(a.model);
  }
  const tokens = a.usage?.completion_tokens;
  if (typeof tokens === 'number') {
    parts.push(`${a.usage?.estimated ? '~' : ''}${tokens} tokens`);
  }
  const cost = formatCost(a.cost_usd);
  if (cost) {
    parts.push(cost);
  }
  const failedGates = (a.gates ?? []).filter((g) => g.passed === false);
  const suffix = parts.length > 0 ? ` (${parts.join(', ')})` : '';
  if (a.status === 'truncated') {
    return {
      severity: 'warning',
      message: `${what} was cut off at the token limit and could not be continued${suffix}; the document was restored. Raise generation.max_tokens or ask for less.`,
    };
  }
  if (a.status === 'gates_failed') {
    const names = failedGates.map((g) => (g.message ? `${g.name}: ${g.message}` : g.name)).join('; ') || 'see the diagnostics';
    const keep = a.review?.id ? ' It is pending: Accept or Discard it with the lenses.' : '';
    return { severity: 'warning', message: `${what} delivered, but gates failed${suffix}: ${names}.${keep}` };
  }
  if (failedGates.length > 0) {
    const names = failedGates.map((g) => (g.message ? `${g.name}: ${g.message}` : g.name)).join('; ');
    return { severity: 'warning', message: `${what} done${suffix}, but checks failed: ${names}` };
  }
  if (a.review?.id) {
    // The lenses above the change are the call to action; a toast would only cover them.
    return {
      severity: 'info',
      message: `${what} done${suffix}: review it with the Accept / Discard lenses above the change.`,
      quiet: true,
    };
  }
  return { severity: 'info', message: `${what} done${suffix}.`, quiet: true };
}

/** A JSON-RPC error (vscode-jsonrpc's ResponseError has `code` and `message`). */
export function describeError(what: string, command: string, error: unknown): Notice {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  const message =
    error instanceof Error
      ? error.message
      : typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string'
        ? (error as { message: string }).message
        : String(error);
  if (code === REQUEST_CANCELLED || code === SERVER_CANCELLED || /request (got )?cancell?ed/i.test(message)) {
    return { severity: 'info', message: `${what} cancelled; the document was restored.` };
  }
  if (code === METHOD_NOT_FOUND || /command name .* is not defined|command .*not found|unknown command|not (registered|supported)/i.test(message)) {
    return {
      severity: 'error',
      message: `${what} is not available: this tta-codegen server does not provide \`${command}\`. Update tta-codegen (pip install -U tta-codegen) and run "TTA Codegen: Restart Server".`,
    };
  }
  if (/client is not running|connection (got )?(closed|disposed)|not running/i.test(message)) {
    return {
      severity: 'error',
      message: `${what} failed: the tta-codegen server is not running. See the "TTA Codegen" output, then run "TTA Codegen: Restart Server".`,
    };
  }
  return { severity: 'error', message: `${what} failed: ${message}` };
}
