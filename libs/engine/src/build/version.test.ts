import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { localVersion, resolveBuildVersion } from './version';
import { VezaError } from '../log/errors';

const NO_OVERRIDE = {};

async function tempRepo(t: { after(fn: () => Promise<void>): void }): Promise<{ dir: string; git: (...args: string[]) => string }> {
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-version-test-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', '-c', 'commit.gpgsign=false', ...args], { cwd: dir, encoding: 'utf8' }).trim();
  git('init', '-q', '-b', 'main');
  return { dir, git };
}

async function committedRepo(t: Parameters<typeof tempRepo>[0]) {
  const repo = await tempRepo(t);
  await fs.writeFile(join(repo.dir, '.gitignore'), 'dist/\n');
  await fs.writeFile(join(repo.dir, 'a.txt'), 'one\n');
  repo.git('add', '-A');
  repo.git('commit', '-q', '-m', 'first');
  return repo;
}

test('a clean work tree builds as HEAD', async (t) => {
  const { dir, git } = await committedRepo(t);
  assert.equal(await resolveBuildVersion(dir, NO_OVERRIDE), git('rev-parse', 'HEAD'));
});

test('untracked files under a gitignored path keep the tree clean', async (t) => {
  const { dir, git } = await committedRepo(t);
  await fs.mkdir(join(dir, 'dist'));
  await fs.writeFile(join(dir, 'dist', 'out.js'), 'x');
  assert.equal(await resolveBuildVersion(dir, NO_OVERRIDE), git('rev-parse', 'HEAD'));
});

test('a modified tracked file gives a local version named by the content', async (t) => {
  const { dir, git } = await committedRepo(t);
  await fs.writeFile(join(dir, 'a.txt'), 'two\n');
  const v1 = await resolveBuildVersion(dir, NO_OVERRIDE);
  assert.match(v1, /^local-[0-9a-f]{12}$/);
  assert.equal(await resolveBuildVersion(dir, NO_OVERRIDE), v1, 'same content, same version');
  await fs.writeFile(join(dir, 'a.txt'), 'three\n');
  assert.notEqual(await resolveBuildVersion(dir, NO_OVERRIDE), v1, 'different content, different version');
  assert.equal(git('status', '--porcelain'), 'M a.txt', 'the user\'s own index is untouched');
});

test('a same-second edit of the same size is hashed by its content, not by the stat cache', async (t) => {
  const { dir, git } = await committedRepo(t);
  const file = join(dir, 'a.txt');
  const old = new Date('2020-01-01T00:00:00Z');
  // The state a fast edit leaves: the file's size and mtime match its index entry, and the real index is
  // racy (as old as the entry), so git status re-reads the file. ctime, which an edit always changes, is
  // left out so the test does not depend on the clock.
  git('config', 'core.trustctime', 'false');
  await fs.utimes(file, old, old);
  git('update-index', '--refresh');
  await fs.writeFile(file, 'two\n');
  await fs.utimes(file, old, old);
  await fs.utimes(join(dir, '.git', 'index'), old, old);
  // --no-optional-locks: a plain status would rewrite the index and smudge the racy entry.
  assert.equal(git('--no-optional-locks', 'status', '--porcelain'), 'M a.txt');
  const committedTree = git('rev-parse', 'HEAD^{tree}');
  assert.notEqual(await resolveBuildVersion(dir, NO_OVERRIDE), localVersion(committedTree), 'named by the committed content');
  git('add', 'a.txt');
  assert.equal(await resolveBuildVersion(dir, NO_OVERRIDE), localVersion(git('write-tree')));
});

test('a new untracked source file makes the tree dirty', async (t) => {
  const { dir } = await committedRepo(t);
  await fs.writeFile(join(dir, 'b.txt'), 'new\n');
  assert.match(await resolveBuildVersion(dir, NO_OVERRIDE), /^local-[0-9a-f]{12}$/);
});

test('a repository without a commit gives a local version', async (t) => {
  const { dir } = await tempRepo(t);
  await fs.writeFile(join(dir, 'a.txt'), 'one\n');
  assert.match(await resolveBuildVersion(dir, NO_OVERRIDE), /^local-[0-9a-f]{12}$/);
});

test('VEZA_RELEASE_SHA overrides the checkout', async (t) => {
  const { dir } = await committedRepo(t);
  await fs.writeFile(join(dir, 'a.txt'), 'dirty\n');
  const sha = 'ab'.repeat(20);
  assert.equal(await resolveBuildVersion(dir, { VEZA_RELEASE_SHA: sha }), sha);
});

test('a malformed VEZA_RELEASE_SHA is refused', async () => {
  for (const bad of ['abc', 'AB'.repeat(20), 'local-0123456789ab', `${'a'.repeat(40)}\n`]) {
    await assert.rejects(resolveBuildVersion('/nonexistent', { VEZA_RELEASE_SHA: bad }), (e: unknown) => {
      assert.ok(e instanceof VezaError);
      assert.match(e.message, /VEZA_RELEASE_SHA=.* is not a 40-hex git sha/);
      return true;
    });
  }
});

test('outside a git work tree the build asks for VEZA_RELEASE_SHA', async (t) => {
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-version-test-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  await assert.rejects(resolveBuildVersion(dir, NO_OVERRIDE), (e: unknown) => e instanceof VezaError && e.code === 'NO_VERSION' && /VEZA_RELEASE_SHA/.test(e.hint));
});
