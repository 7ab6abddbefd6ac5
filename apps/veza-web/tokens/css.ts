/**
 * Design tokens → CSS custom properties: `{ "color": { "bg": "#000" } }`
 * becomes `--color-bg: #000;` on :root. Output follows the file's order, so
 * the same tokens file always yields the same bytes (and the same asset hash).
 */
const NAME = /^[a-z0-9]+(-[a-z0-9]+)*$/;
// A value may not end the declaration or the rule it sits in.
const UNSAFE_VALUE = /[;{}<>\\]|\/\*/;

export class TokensError extends Error {}

export type Tokens = Record<string, Record<string, string>>;

export function parseTokens(json: string, file: string): Tokens {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new TokensError(`${file}: not valid JSON (${(e as Error).message}) — fix the syntax`);
  }
  if (!isObject(raw)) throw new TokensError(`${file}: expected an object of token groups, e.g. {"color": {"bg": "#000"}}`);
  for (const [group, entries] of Object.entries(raw)) {
    if (!NAME.test(group)) throw new TokensError(`${file}: group "${group}" must be lower-case words joined by dashes`);
    if (!isObject(entries)) throw new TokensError(`${file}: group "${group}" must be an object of name → value`);
    for (const [name, value] of Object.entries(entries)) {
      if (!NAME.test(name)) throw new TokensError(`${file}: token "${group}.${name}" must be lower-case words joined by dashes`);
      if (typeof value !== 'string' || value.trim() === '' || UNSAFE_VALUE.test(value)) {
        throw new TokensError(`${file}: token "${group}.${name}" must be a non-empty CSS value without ; { } < > \\ or comments`);
      }
    }
  }
  return raw as Tokens;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function tokensToCss(tokens: Tokens): string {
  const lines = Object.entries(tokens).flatMap(([group, entries]) => Object.entries(entries).map(([name, value]) => `  --${group}-${name}: ${value};`));
  return `:root {\n${lines.join('\n')}\n}\n`;
}
