import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseTokens, tokensToCss, TokensError } from '../tokens/css';

test('tokens become :root custom properties named group-name, in file order', () => {
  const tokens = parseTokens('{"color": {"bg": "#000", "text": "#fff"}, "space": {"sm": "8px"}}', 'tokens.json');
  assert.equal(tokensToCss(tokens), ':root {\n  --color-bg: #000;\n  --color-text: #fff;\n  --space-sm: 8px;\n}\n');
});

test('the real tokens file parses and yields one property per token', () => {
  const file = join(__dirname, '..', 'tokens', 'tokens.json');
  const tokens = parseTokens(readFileSync(file, 'utf8'), file);
  const count = Object.values(tokens).reduce((n, g) => n + Object.keys(g).length, 0);
  assert.equal(tokensToCss(tokens).match(/^ {2}--[a-z0-9-]+: [^;]+;$/gm)?.length, count);
});

test('malformed tokens are refused with the file and token named', () => {
  const cases: [string, RegExp][] = [
    ['{', /^t\.json: not valid JSON/],
    ['[]', /^t\.json: expected an object of token groups/],
    ['{"Color": {"bg": "#000"}}', /^t\.json: group "Color" must be lower-case/],
    ['{"color": "#000"}', /^t\.json: group "color" must be an object/],
    ['{"color": {"bg_x": "#000"}}', /^t\.json: token "color\.bg_x" must be lower-case/],
    ['{"color": {"bg": "red; } body { display: none"}}', /^t\.json: token "color\.bg" must be a non-empty CSS value/],
    ['{"color": {"bg": 3}}', /^t\.json: token "color\.bg" must be a non-empty CSS value/],
    ['{"color": {"bg": "</style>"}}', /^t\.json: token "color\.bg" must be a non-empty CSS value/],
  ];
  for (const [json, re] of cases) assert.throws(() => parseTokens(json, 't.json'), (e: Error) => e instanceof TokensError && re.test(e.message), json);
});
