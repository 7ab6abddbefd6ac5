import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadWorkspace, type Workspace } from '../../config/workspace';

const ROOT = resolve(__dirname, '../../../../..');

/**
 * For the host tests: the real workspace's environments and edges, with a
 * root of its own holding `infra/host/prod.yaml` (and any of this
 * repository's directories the test names), removed after the test.
 */
export async function hostWorkspace(t: { after(fn: () => unknown): void }, hostFile: string, copy: string[] = []): Promise<Workspace> {
  const real = await loadWorkspace(ROOT);
  const dir = await mkdtemp(join(tmpdir(), 'veza-host-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'infra/host'), { recursive: true });
  await writeFile(join(dir, 'infra/host/prod.yaml'), hostFile);
  for (const d of copy) await cp(join(ROOT, d), join(dir, d), { recursive: true });
  return { root: dir, components: real.components, envNames: real.envNames, edgeNames: real.edgeNames, env: (n) => real.env(n), edge: (n) => real.edge(n), envsOn: (e) => real.envsOn(e) };
}
