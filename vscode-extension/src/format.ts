/**
 * Text shown to the user for models, usage and the status bar.
 *
 * Pure. Reads the `tta.listModels` and `tta.stats` answers defensively: the extension
 * may talk to an older or newer server, and a missing field must not break the UI.
 */

export interface ModelInfo {
  id: string;
  name: string;
  provider: string;
  free: boolean;
  isDefault: boolean;
  health: string;
  inputCost?: number;
  outputCost?: number;
  contextWindow?: number;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export function parseModels(value: unknown): ModelInfo[] {
  if (!Array.isArray(value)) {
    return [];
  }
  const out: ModelInfo[] = [];
  for (const item of value) {
    if (typeof item !== 'object' || item === null) {
      continue;
    }
    const m = item as Record<string, unknown>;
    const id = str(m.id);
    if (!id) {
      continue;
    }
    const info: ModelInfo = {
      id,
      name: str(m.name) || id,
      provider: str(m.provider),
      free: m.free === true,
      isDefault: m.default === true,
      health: str(m.health) || 'unknown',
    };
    const input = num(m.input_cost_per_mtok);
    const output = num(m.output_cost_per_mtok);
    const ctx = num(m.context_window);
    if (input !== undefined) info.inputCost = input;
    if (output !== undefined) info.outputCost = output;
    if (ctx !== undefined) info.contextWindow = ctx;
    out.push(info);
  }
  return out;
}

export function formatUsd(usd: number | undefined): string {
  if (usd === undefined) {
    return '–';
  }
  if (usd === 0) {
    return '$0.00';
  }
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

export function priceText(m: ModelInfo): string {
  if (m.free) {
    return 'free';
  }
  if (m.inputCost === undefined && m.outputCost === undefined) {
    return 'price unknown';
  }
  return `$${m.inputCost ?? 0}/$${m.outputCost ?? 0} per M tokens in/out`;
}

/** The default model: the one the server marks, else the first. */
export function defaultModel(models: ModelInfo[]): ModelInfo | undefined {
  return models.find((m) => m.isDefault) ?? models[0];
}

export function modelsMarkdown(models: ModelInfo[], selected: string | undefined): string {
  if (models.length === 0) {
    return '# TTA Codegen models\n\nNo models are configured. Add `ttaCodegen.providers` and `ttaCodegen.models` in the settings, or a `tta-codegen.toml` (see docs/configuration.md).\n';
  }
  const rows = models.map((m) => {
    const marks = [m.isDefault ? 'default' : '', selected === m.id ? 'selected' : ''].filter(Boolean).join(', ');
    return `| ${m.id} | ${m.provider} | ${priceText(m)} | ${m.contextWindow ?? ''} | ${m.health} | ${marks} |`;
  });
  return [
    '# TTA Codegen models',
    '',
    '| model | provider | price | context | health | |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

export interface Usage {
  costToday?: number;
  costMonth?: number;
  costTotal?: number;
  requests?: number;
  failures?: number;
  models: Record<string, unknown>[];
  budget: Record<string, unknown>;
}

export function parseStats(value: unknown): Usage {
  const usage: Usage = { models: [], budget: {} };
  if (typeof value !== 'object' || value === null) {
    return usage;
  }
  const s = value as Record<string, unknown>;
  const totals = (typeof s.totals === 'object' && s.totals !== null ? s.totals : {}) as Record<string, unknown>;
  const today = num(totals.cost_today_usd);
  const month = num(totals.cost_month_usd);
  const total = num(totals.cost_total_usd);
  const requests = num(totals.requests);
  const failures = num(totals.failures);
  if (today !== undefined) usage.costToday = today;
  if (month !== undefined) usage.costMonth = month;
  if (total !== undefined) usage.costTotal = total;
  if (requests !== undefined) usage.requests = requests;
  if (failures !== undefined) usage.failures = failures;
  if (Array.isArray(s.models)) {
    usage.models = s.models.filter((m): m is Record<string, unknown> => typeof m === 'object' && m !== null);
  }
  if (typeof s.budget === 'object' && s.budget !== null) {
    usage.budget = s.budget as Record<string, unknown>;
  }
  return usage;
}

const ms = (v: unknown): string => {
  const n = num(v);
  return n === undefined ? '–' : `${Math.round(n)}`;
};

export function usageMarkdown(usage: Usage): string {
  const lines = [
    '# TTA Codegen usage & cost',
    '',
    `- today: ${formatUsd(usage.costToday)}`,
    `- this month: ${formatUsd(usage.costMonth)}`,
    `- total: ${formatUsd(usage.costTotal)}`,
    `- requests: ${usage.requests ?? 0} (${usage.failures ?? 0} failed)`,
  ];
  const budgets = Object.entries(usage.budget);
  if (budgets.length > 0) {
    lines.push('', '## Budget', '');
    for (const [name, b] of budgets) {
      const rec = (typeof b === 'object' && b !== null ? b : {}) as Record<string, unknown>;
      const spent = num(rec.spent);
      const left = num(rec.left);
      lines.push(
        `- ${name}: limit ${formatUsd(num(rec.limit))}` +
          (spent !== undefined ? `, spent ${formatUsd(spent)}` : '') +
          (left !== undefined ? `, left ${formatUsd(left)}` : ''),
      );
    }
  }
  if (usage.models.length > 0) {
    lines.push(
      '',
      '## Models',
      '',
      '| model | requests | failed | ttft p50/p95 ms | total p50/p95 ms | tokens in/out | tok/s | today | total |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const m of usage.models) {
      lines.push(
        `| ${str(m.model)} | ${num(m.requests) ?? 0} | ${num(m.failures) ?? 0} | ${ms(m.ttft_p50_ms)}/${ms(m.ttft_p95_ms)} | ${ms(m.total_p50_ms)}/${ms(m.total_p95_ms)} | ${num(m.prompt_tokens) ?? 0}/${num(m.completion_tokens) ?? 0} | ${num(m.tokens_per_s) ?? '–'} | ${formatUsd(num(m.cost_today_usd))} | ${formatUsd(num(m.cost_total_usd))} |`,
      );
    }
  }
  lines.push('');
  return lines.join('\n');
}

/** The status bar: model in use and today's cost. */
export function statusText(model: string | undefined, costToday: number | undefined, running: boolean): string {
  if (!running) {
    return '$(circle-slash) TTA';
  }
  const parts = [`$(sparkle) ${model ?? 'no model'}`];
  if (costToday !== undefined) {
    parts.push(formatUsd(costToday));
  }
  return parts.join(' · ');
}
