import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { elfLinking } from './elf';
import { undeclaredOsNeeds } from './os-needs';
import { tempDir, writeTree } from './testing/helpers';

/** The smallest 64-bit little-endian ELF header with no program headers: what a static binary shows this check. */
function staticElf(): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2;
  b[5] = 1;
  b.writeBigUInt64LE(64n, 0x20);
  b.writeUInt16LE(56, 0x36);
  return b;
}

const decl = (command: string[], needs: string[] = []) => ({ name: 'veza-x', run: { command, port: 8080, health: '/h', env: { required: [], optional: [] }, needs } });

test('elfLinking reads the loader and the libraries of a dynamic binary, nothing of a static one, and skips what is not ELF', () => {
  const dash = elfLinking(readFileSync('/bin/dash'))!;
  assert.match(dash.interpreter ?? '', /^\/lib.*\/ld-linux/);
  assert.deepEqual(dash.needed, ['libc.so.6']);
  assert.deepEqual(elfLinking(staticElf()), { needed: [] });
  assert.equal(elfLinking(Buffer.from('#!/bin/sh\necho hi\n'.padEnd(80))), undefined);
  assert.equal(elfLinking(staticElf().subarray(0, 40)), undefined, 'cut short');
});

test('a component with no run.needs is warned about a program from the OS and about libraries beyond glibc, naming them', async (t) => {
  const root = await tempDir(t);
  await writeTree(root, { 'server.js': 'x', 'bin/static': staticElf(), 'bin/sh': readFileSync('/bin/dash'), 'bin/ls': readFileSync('/bin/ls') });
  const lsLibs = elfLinking(readFileSync('/bin/ls'))!.needed.filter((l) => l !== 'libc.so.6');
  assert.ok(lsLibs.length > 0, 'ls links more than glibc');
  assert.deepEqual(await undeclaredOsNeeds(root, decl(['./bin/static'])), [
    `veza-x: bin/ls is dynamically linked against ${lsLibs.join(', ')} (beyond glibc's), and apps/veza-x/component.json declares no run.needs: a base image without them cannot start it — declare the Debian packages that provide them (dpkg -S <library> finds them), or link it statically`,
  ]);
  await fs.rm(join(root, 'bin/ls'));
  assert.deepEqual(await undeclaredOsNeeds(root, decl(['./bin/static'])), [], 'static and glibc-only binaries run on any Debian base image');
  const [node] = await undeclaredOsNeeds(root, decl(['node', 'server.js']));
  assert.match(node!, /^veza-x runs node, which is not in its artifact, and declares no run\.needs: .*apps\/veza-x\/component\.json run\.needs/);
  assert.equal((await undeclaredOsNeeds(root, decl(['/usr/bin/node', 'server.js']))).length, 1);
  assert.deepEqual(await undeclaredOsNeeds(root, decl(['node', 'server.js'], ['nodejs'])), [], 'a component that declares needs is not second-guessed');
});
