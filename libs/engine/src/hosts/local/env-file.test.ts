import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { formatEnvFile, parseEnvFile } from './env-file';
import { VezaError } from '../../log/errors';

const tricky = {
  PLAIN: 'abc',
  QUOTES: `it's "quoted" \\ back`,
  MULTI: 'line1\nline2\n',
  SHELLISH: '$HOME `id` $(rm -rf /) ; | &',
  EMPTY: '',
  UNICODE: 'héllo ✓',
};

test('the env file round-trips any value, quotes and newlines included', () => {
  const text = formatEnvFile(tricky);
  assert.deepEqual(parseEnvFile(text, 'env'), tricky);
});

test('a POSIX shell reads the env file to the same values', () => {
  const text = formatEnvFile(tricky);
  // Read from stdin, never pasted into the script; the names are fixed identifiers.
  const script = `eval "$(cat)"; printf '%s\\0' ${Object.keys(tricky).map((k) => `"$${k}"`).join(' ')}`;
  const out = execFileSync('sh', ['-c', script], { input: text, encoding: 'utf8', env: {} });
  assert.deepEqual(out.split('\0').slice(0, -1), Object.values(tricky));
});

test('bad names and malformed lines are refused with their line number', () => {
  assert.throws(() => formatEnvFile({ 'BAD-NAME': 'x' }), VezaError);
  assert.throws(() => formatEnvFile({ NUL: 'a\0b' }), VezaError);
  assert.throws(() => parseEnvFile("A='1'\nB=unquoted\n", 'f'), /f:2: unquoted text in the value of B/);
  assert.throws(() => parseEnvFile("A='1\n", 'f'), /unterminated quote/);
});
