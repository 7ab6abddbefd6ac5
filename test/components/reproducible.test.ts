import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { copyRepository, type RepoCopy } from '../e2e/support/copy';
import { elfInterpreter } from '../support/elf';

/**
 * The real components, packaged twice with Nx's cache skipped, in two
 * checkouts of the same commit at different paths (each with its own cargo
 * target dir, so the Rust build is cold in both): every .tar.zst must have
 * the same sha256, and every shipped binary must be static.
 */
const COMPONENTS = ['veza-api', 'veza-stream', 'veza-web'];
const BINARIES: Record<string, string[]> = { 'veza-api': ['veza-api', 'migrate_tool'], 'veza-stream': ['veza-stream'] };
const COMMIT_DATE = '2026-01-01T00:00:00Z';

async function artifacts(repo: RepoCopy): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const c of COMPONENTS) {
    const files = (await fs.readdir(join(repo.dir, 'dist', 'artifacts', c))).filter((f) => f.endsWith('.tar.zst'));
    assert.equal(files.length, 1, `${c}: ${files.join(', ')}`);
    out[`${c}/${files[0]}`] = createHash('sha256').update(await fs.readFile(join(repo.dir, 'dist', 'artifacts', c, files[0]))).digest('hex');
  }
  return out;
}

test('two uncached package runs of the same commit give byte-identical artifacts, and the Go and Rust binaries are static', async (t) => {
  const a = await copyRepository(t, { subnet: '127.79.7', port: 18407, commitDate: COMMIT_DATE });
  const b = await copyRepository(t, { subnet: '127.79.7', port: 18407, commitDate: COMMIT_DATE });
  const sha = await a.head();
  assert.equal(await b.head(), sha, 'the same files and dates make the same commit');

  const runs: Record<string, string>[] = [];
  for (const repo of [a, b]) {
    const r = await repo.nx('run-many', '-t', 'package', '--skip-nx-cache');
    assert.equal(r.code, 0, r.out);
    runs.push(await artifacts(repo));
  }
  assert.deepEqual(Object.keys(runs[0]).sort(), COMPONENTS.map((c) => `${c}/${c}-${sha}.tar.zst`));
  assert.deepEqual(runs[1], runs[0]);

  for (const [c, bins] of Object.entries(BINARIES)) {
    for (const bin of bins) {
      const file = join(a.dir, 'dist', 'build', c, 'root', bin);
      assert.equal(elfInterpreter(await fs.readFile(file)), null, `${c}/${bin} asks for no dynamic loader`);
      // ldd exits 1 on a static binary on some glibc versions; its words are what matter.
      const ldd = await promisify(execFile)('ldd', [file]).then((r) => r.stdout + r.stderr, (e: { stdout: string; stderr: string }) => e.stdout + e.stderr);
      assert.match(ldd, /not a dynamic executable|statically linked/, `${c}/${bin}: ${ldd}`);
    }
  }
  const needs = JSON.parse(await fs.readFile(join(a.dir, 'dist', 'build', 'veza-web', 'root', 'needs.json'), 'utf8')) as { commands: Record<string, string> };
  assert.deepEqual(needs.commands, { node: '>=20' }, 'the web artifact says what its slot must have');
});
