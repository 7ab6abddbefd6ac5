import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseArchivePath, symlinkEscape } from './links';

test('archive paths are normalised, and anything that could leave the root is named', () => {
  assert.deepEqual(normaliseArchivePath('./a//b/./c/'), { path: 'a/b/c' });
  assert.deepEqual(normaliseArchivePath('./'), { path: '' });
  assert.deepEqual(normaliseArchivePath('..a/b..'), { path: '..a/b..' });
  assert.deepEqual(normaliseArchivePath('/etc/passwd'), { error: 'is an absolute path' });
  assert.deepEqual(normaliseArchivePath('a/../../b'), { error: 'contains a ".." component' });
  assert.deepEqual(normaliseArchivePath('a/..'), { error: 'contains a ".." component' });
  assert.deepEqual(normaliseArchivePath('a\u0000b'), { error: 'contains a NUL byte' });
});

test('symlinks are followed through the other links of the tree', () => {
  const links = new Map([
    ['lib/a', '../bin/x'],
    ['lib/b', 'a'],
    ['d/up', '..'],
    ['d/up2', '../d/up'],
    ['esc', 'd/up/../x'],
    ['esc2', 'd/up2/../../x'],
    ['fine', 'd/up/lib/b'],
    ['abs', '/etc'],
    ['via-abs', 'abs/passwd'],
    ['loop1', 'loop2/x'],
    ['loop2', 'loop1'],
    ['top', '../x'],
  ]);
  assert.equal(symlinkEscape('lib/a', links), null);
  assert.equal(symlinkEscape('lib/b', links), null);
  assert.equal(symlinkEscape('d/up', links), null);
  assert.equal(symlinkEscape('fine', links), null);
  assert.equal(symlinkEscape('esc', links), 'its target leaves the root');
  assert.equal(symlinkEscape('esc2', links), 'its target leaves the root');
  assert.equal(symlinkEscape('top', links), 'its target leaves the root');
  assert.equal(symlinkEscape('abs', links), 'its target is absolute');
  assert.equal(symlinkEscape('via-abs', links), 'it passes through abs, whose target is absolute');
  assert.equal(symlinkEscape('loop1', links), 'it loops through other symlinks');
});
