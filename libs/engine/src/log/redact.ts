/**
 * Process-wide registry of secret values. Every line the logger writes passes
 * through `redact`, so a secret registered once never reaches a log, even when
 * it is embedded in a URL or an error message from a library.
 */
const secrets = new Set<string>();

export function registerSecret(value: string | undefined | null): void {
  // Very short values would redact ordinary words; real secrets are longer.
  if (value && value.length >= 4) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('***');
  return out;
}

/** For tests that need a clean registry. */
export function clearSecretsForTest(): void {
  secrets.clear();
}
