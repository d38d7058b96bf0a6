/**
 * Which documents get inline completion (pure, unit-tested without VS Code).
 *
 * `ttaCodegen.inlineCompletion.enabled` turns it on or off everywhere (the status-bar item
 * flips it); `ttaCodegen.inlineCompletion.languages` is a map of language id → on/off with
 * `"*"` for the rest, like `{ "*": true, "markdown": false }`.
 */

export interface InlineSettings {
  enabled: boolean;
  languages: Record<string, boolean>;
}

export function toInlineSettings(get: (key: string) => unknown): InlineSettings {
  const enabled = get('inlineCompletion.enabled');
  const languages = get('inlineCompletion.languages');
  const map: Record<string, boolean> = {};
  if (typeof languages === 'object' && languages !== null) {
    for (const [k, v] of Object.entries(languages as Record<string, unknown>)) {
      if (typeof v === 'boolean') {
        map[k] = v;
      }
    }
  }
  return { enabled: enabled !== false, languages: map };
}

export function enabledFor(settings: InlineSettings, languageId: string): boolean {
  if (!settings.enabled) {
    return false;
  }
  const own = settings.languages[languageId];
  if (own !== undefined) {
    return own;
  }
  return settings.languages['*'] !== false;
}

/** An item's text: `insertText` is a string or (LSP 3.18) a snippet `StringValue`. */
export function itemText(insertText: unknown): string | undefined {
  if (typeof insertText === 'string') {
    return insertText;
  }
  if (typeof insertText === 'object' && insertText !== null) {
    const value = (insertText as { value?: unknown }).value;
    return typeof value === 'string' ? value : undefined;
  }
  return undefined;
}
