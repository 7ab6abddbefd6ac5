import { VezaError } from '../../log/errors';
import { checkEnvVars, ENV_KEY } from '../slot-spec';

/**
 * A slot's env file: one `KEY='value'` per variable, quoted the POSIX-shell
 * way (`'` becomes `'\''`), so an operator can also `set -a; . ./env` it.
 * Values may hold any character but NUL, newlines included.
 */
export function formatEnvFile(vars: Record<string, string>): string {
  checkEnvVars(vars);
  const lines = Object.keys(vars)
    .sort()
    .map((k) => `${k}='${vars[k]!.replace(/'/g, `'\\''`)}'`);
  return `# written by veza; mode 0600, holds secrets\n${lines.join('\n')}\n`;
}

/** Reads exactly what formatEnvFile writes; anything else is reported with its line. */
export function parseEnvFile(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  let line = 1;
  const fail = (why: string): never => {
    throw new VezaError(`${file}:${line}: ${why}`, 'the env file is written by the deploy; re-create the slot instead of editing it', 'BAD_STATE');
  };
  while (i < text.length) {
    if (text[i] === '\n') {
      i++;
      line++;
      continue;
    }
    if (text[i] === '#') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? text.length : end;
      continue;
    }
    const eq = text.indexOf('=', i);
    if (eq === -1) fail('expected KEY=\'value\'');
    const key = text.slice(i, eq);
    if (!ENV_KEY.test(key)) fail(`invalid variable name ${JSON.stringify(key)}`);
    i = eq + 1;
    let value = '';
    // A value is a run of '...' segments and \' escapes, ended by a newline or the end of the text.
    while (i < text.length && text[i] !== '\n') {
      if (text.startsWith("\\'", i)) {
        value += "'";
        i += 2;
      } else if (text[i] === "'") {
        const close = text.indexOf("'", i + 1);
        if (close === -1) fail(`unterminated quote in ${key}`);
        const segment = text.slice(i + 1, close);
        value += segment;
        line += segment.split('\n').length - 1;
        i = close + 1;
      } else {
        fail(`unquoted text in the value of ${key}`);
      }
    }
    out[key] = value;
  }
  return out;
}
