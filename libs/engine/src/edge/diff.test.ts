import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unifiedDiff } from './diff';

test('unified diff: removals before additions, with context, and nothing for equal texts', () => {
  const a = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].join('\n');
  const b = ['a', 'b', 'c', 'D', 'e', 'f', 'g', 'h'].join('\n');
  assert.equal(unifiedDiff(a, b, { before: 'old', after: 'new' }), ['--- old', '+++ new', '@@ -2,5 +2,5 @@', ' b', ' c', '-d', '+D', ' e', ' f'].join('\n'));
  assert.equal(unifiedDiff(a, a, { before: 'x', after: 'y' }), '');
  assert.equal(unifiedDiff('', 'x\n', { before: '/dev/null', after: 'new' }), ['--- /dev/null', '+++ new', '@@ -0,0 +1,2 @@', '+x', '+'].join('\n'));
});
