import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { isVezaError } from '@veza/engine/log/errors';

export const WORKSPACE_ROOT = join(__dirname, '..', '..', '..', '..');

/** The declarations the generators read, copied from this workspace: a virtual tree that renders like the real one. */
export const DECLARATIONS = [
  ...readdirSync(join(WORKSPACE_ROOT, 'apps')).map((a) => `apps/${a}/component.json`).filter((f) => existsSync(join(WORKSPACE_ROOT, f))),
  ...readdirSync(join(WORKSPACE_ROOT, 'infra/environments')).map((f) => `infra/environments/${f}`),
  ...readdirSync(join(WORKSPACE_ROOT, 'infra/edges')).map((f) => `infra/edges/${f}`),
];

export function workspaceTree(): Tree {
  const tree = createTreeWithEmptyWorkspace();
  for (const file of DECLARATIONS) tree.write(file, readFileSync(join(WORKSPACE_ROOT, file)));
  return tree;
}

/** Every file a generator changed, with its content, for "nothing written" and "written twice the same" checks. */
export function snapshot(tree: Tree): Record<string, string> {
  return Object.fromEntries(tree.listChanges().map((c) => [c.path, `${c.type}:${c.content?.toString('utf8') ?? ''}`]));
}

/** Asserts that `generate` refuses with one clear error (message, code, a hint) and writes nothing. */
export function assertRefused(tree: Tree, generate: (tree: Tree) => void, message: RegExp, code: string): void {
  const before = snapshot(tree);
  assert.throws(() => generate(tree), (e: unknown) => {
    assert.ok(isVezaError(e), String(e));
    assert.match(e.message, message);
    assert.equal(e.code, code);
    assert.ok(e.hint.length > 0);
    return true;
  });
  assert.deepEqual(snapshot(tree), before, 'nothing written');
}
