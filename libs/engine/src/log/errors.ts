/**
 * The one error type the engine throws for anything a user can fix.
 * `hint` is the "what to do next" half of every user-facing message.
 */
export class VezaError extends Error {
  readonly hint: string;
  readonly code: string;

  constructor(message: string, hint: string, code = 'VEZA_ERROR') {
    super(message);
    this.name = 'VezaError';
    this.hint = hint;
    this.code = code;
  }

  /** One line: what went wrong, then what to do. */
  toLine(): string {
    return `${this.message} — ${this.hint}`;
  }
}

export function isVezaError(e: unknown): e is VezaError {
  return e instanceof VezaError;
}

/** Renders any thrown value as the single line a user sees. */
export function describeError(e: unknown): string {
  if (isVezaError(e)) return e.toLine();
  if (e instanceof Error) return e.message;
  return String(e);
}
