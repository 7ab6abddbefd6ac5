import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

interface Compiled {
  exports: Record<string, unknown>;
  saveCodeCache(): void;
}
const { freshBundle }: { freshBundle(dir: string, entryPoints: Record<string, string>): { load(name: string): Record<string, unknown>; loadCompiled(name: string): Compiled } } = require('./fresh-bundle.cjs');

const run = promisify(execFile);

/** A package whose entry imports a second file, so a change to a dependency (not the entry) must be noticed. */
async function pkg(t: { after(fn: () => unknown): void }): Promise<string> {
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-fresh-bundle-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.writeFile(join(dir, 'entry.ts'), "import { word } from './word';\nexport const value: string = `hello ${word}`;\n");
  await fs.writeFile(join(dir, 'word.ts'), "export const word = 'one';\n");
  // Written before the first build, as an edit is: a file stamped in the same clock tick as a build's start counts
  // as newer than it (it may have missed the build), and the kernel's file clock ticks every few milliseconds.
  const before = new Date(Date.now() - 2_000);
  for (const f of ['entry.ts', 'word.ts']) await fs.utimes(join(dir, f), before, before);
  return dir;
}

const ENTRIES = { entry: './entry.ts' };
const currentBuild = (dir: string): string => JSON.parse(readFileSync(join(dir, 'dist', 'current.json'), 'utf8')).build;

test('a missing bundle is built, then reused while no input changed', async (t) => {
  const dir = await pkg(t);
  assert.equal(freshBundle(dir, ENTRIES).load('entry').value, 'hello one');
  const first = currentBuild(dir);
  assert.equal(freshBundle(dir, ENTRIES).load('entry').value, 'hello one');
  assert.equal(currentBuild(dir), first);
});

test('a change to any file the bundle was built from rebuilds it before it is loaded', async (t) => {
  const dir = await pkg(t);
  freshBundle(dir, ENTRIES);
  const first = currentBuild(dir);
  await fs.writeFile(join(dir, 'word.ts'), "export const word = 'two';\n");
  assert.equal(freshBundle(dir, ENTRIES).load('entry').value, 'hello two');
  assert.notEqual(currentBuild(dir), first);
});

test('another set of entry points rebuilds', async (t) => {
  const dir = await pkg(t);
  freshBundle(dir, ENTRIES);
  assert.equal(freshBundle(dir, { ...ENTRIES, word: './word.ts' }).load('word').word, 'one');
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(join(dir, 'dist', 'current.json'), 'utf8')).entryPoints), ['entry', 'word']);
});

test('processes that find it stale at the same time each publish a whole build', async (t) => {
  const dir = await pkg(t);
  const script = `const b = require(${JSON.stringify(join(__dirname, 'fresh-bundle.cjs'))}).freshBundle(${JSON.stringify(dir)}, ${JSON.stringify(ENTRIES)}); process.stdout.write(b.load('entry').value);`;
  const outs = await Promise.all([1, 2, 3, 4].map(() => run(process.execPath, ['-e', script]).then((r) => r.stdout)));
  assert.deepEqual(outs, ['hello one', 'hello one', 'hello one', 'hello one']);
  assert.equal(freshBundle(dir, ENTRIES).load('entry').value, 'hello one');
  await fs.access(join(dir, 'dist', currentBuild(dir), 'entry.js'));
});

test('a source that does not compile fails with the file and what to do, keeping the last good build', async (t) => {
  const dir = await pkg(t);
  freshBundle(dir, ENTRIES);
  const good = currentBuild(dir);
  await fs.writeFile(join(dir, 'word.ts'), 'export const word = ;\n');
  assert.throws(() => freshBundle(dir, ENTRIES), /^Error: cannot bundle .*: word\.ts:1: .* — fix the source and run the command again$/);
  assert.equal(currentBuild(dir), good);
});

test('loadCompiled loads the bundle as require does, and keeps V8\'s code cache beside it once written', async (t) => {
  const dir = await pkg(t);
  const first = freshBundle(dir, ENTRIES).loadCompiled('entry');
  assert.equal(first.exports.value, 'hello one');
  const cache = join(dir, 'dist', currentBuild(dir), 'entry.js.v8cache');
  await assert.rejects(fs.access(cache), 'written only once the command has run');
  first.saveCodeCache();
  const written = await fs.stat(cache);
  assert.ok(written.size > 0);
  const second = freshBundle(dir, ENTRIES).loadCompiled('entry');
  assert.equal(second.exports.value, 'hello one');
  second.saveCodeCache();
  assert.equal((await fs.stat(cache)).mtimeMs, written.mtimeMs, 'an accepted cache is not rewritten');
  await fs.writeFile(join(dir, 'word.ts'), "export const word = 'two';\n");
  assert.equal(freshBundle(dir, ENTRIES).loadCompiled('entry').exports.value, 'hello two', 'a rebuild starts without the old build\'s cache');
});

test('a bundle\'s zod schemas are created jitless: parsing compiles no code with new Function', async (t) => {
  const dir = await pkg(t);
  await fs.writeFile(join(dir, 'schema.ts'), `import { z } from ${JSON.stringify(require.resolve('zod'))};\nconst s = z.object({ a: z.string(), b: z.object({ c: z.number() }) });\nexport const parse = (v: unknown) => s.parse(v);\n`);
  const original = globalThis.Function;
  let compiled = 0;
  globalThis.Function = new Proxy(original, { construct: (target, args) => (compiled++, Reflect.construct(target, args)) });
  try {
    const { parse } = freshBundle(dir, { schema: './schema.ts' }).load('schema') as { parse(v: unknown): unknown };
    assert.deepEqual(parse({ a: 'x', b: { c: 1 } }), { a: 'x', b: { c: 1 } });
  } finally {
    globalThis.Function = original;
  }
  assert.equal(compiled, 0);
});

test('loadCompiledUntilExit loads a bundle once per process and writes its code cache when the process exits', async (t) => {
  const dir = await pkg(t);
  const script = `const b = require(${JSON.stringify(join(__dirname, 'fresh-bundle.cjs'))}).freshBundle(${JSON.stringify(dir)}, ${JSON.stringify(ENTRIES)});
const a = b.loadCompiledUntilExit('entry');
process.stdout.write(String(a === b.loadCompiledUntilExit('entry')) + ' ' + a.value);
process.exit(0);`;
  assert.equal((await run(process.execPath, ['-e', script])).stdout, 'true hello one');
  const cache = join(dir, 'dist', currentBuild(dir), 'entry.js.v8cache');
  assert.ok((await fs.stat(cache)).size > 0, 'written at exit, process.exit included');
});
