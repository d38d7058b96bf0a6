import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultModel, modelsMarkdown, parseModels, parseStats, statusText, usageMarkdown } from '../src/format';

const models = parseModels([
  { id: 'a', provider: 'p', free: false, input_cost_per_mtok: 0.5, output_cost_per_mtok: 1.5, default: false, health: 'ok' },
  { id: 'b', provider: 'p', free: true, default: true },
  { name: 'no id' },
]);

test('models: parse, default, table', () => {
  assert.equal(models.length, 2);
  assert.equal(defaultModel(models)?.id, 'b');
  const md = modelsMarkdown(models, 'a');
  assert.ok(md.includes('| a | p | $0.5/$1.5 per M tokens in/out |  | ok | selected |'), md);
  assert.ok(md.includes('| b | p | free |  | unknown | default |'), md);
  assert.match(modelsMarkdown([], undefined), /No models are configured/);
});

test('stats: today cost for the status bar, and a usage report', () => {
  const usage = parseStats({
    budget: { daily_usd: { limit: 5, spent: 0.25, left: 4.75 } },
    models: [{ model: 'a', requests: 3, failures: 1, ttft_p50_ms: 120.4, cost_today_usd: 0.25, cost_total_usd: 1 }],
    totals: { requests: 3, failures: 1, cost_today_usd: 0.25, cost_month_usd: 0.5, cost_total_usd: 1 },
  });
  assert.equal(usage.costToday, 0.25);
  const md = usageMarkdown(usage);
  assert.match(md, /today: \$0.25/);
  assert.match(md, /daily_usd: limit \$5.00, spent \$0.25, left \$4.75/);
  assert.match(md, /\| a \| 3 \| 1 \| 120\/– \|/);
  assert.equal(parseStats('nonsense').costToday, undefined);
});

test('status bar text', () => {
  assert.equal(statusText('b', 0.0012, true), '$(sparkle) b · $0.0012');
  assert.equal(statusText(undefined, undefined, true), '$(sparkle) no model');
  assert.equal(statusText('b', 1, false), '$(circle-slash) TTA');
});
