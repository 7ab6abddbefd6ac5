import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createMemoryLogger } from '../../log/logger';
import { buildComponent, planBuild } from '../build-component';

/**
 * A throw-away workspace holding one component copied from a fixture, with
 * the repository's node_modules linked in (esbuild, vite, pg) and the
 * release sha fixed through the environment, as CI does.
 */
export const FIXTURES = resolve(__dirname, '..', 'fixtures');
const REPO_NODE_MODULES = resolve(__dirname, '..', '..', '..', '..', '..', 'node_modules');
export const RELEASE = '0123456789abcdef0123456789abcdef01234567';

export interface FixtureWorkspace {
  root: string;
  projectRoot: string;
  env: NodeJS.ProcessEnv;
  build(): ReturnType<typeof buildComponent>;
  plan(): ReturnType<typeof planBuild>;
  log: ReturnType<typeof createMemoryLogger>;
}

export async function fixtureWorkspace(
  t: { after(fn: () => Promise<void>): void },
  fixture: string,
  component: Record<string, unknown>,
  env: NodeJS.ProcessEnv = {},
): Promise<FixtureWorkspace> {
  const root = await fs.mkdtemp(join(tmpdir(), 'veza-build-'));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  const name = String(component.name);
  const projectRoot = join(root, 'apps', name);
  await fs.cp(join(FIXTURES, fixture), projectRoot, { recursive: true });
  await fs.writeFile(join(projectRoot, 'component.json'), JSON.stringify(component, null, 2));
  await fs.symlink(REPO_NODE_MODULES, join(root, 'node_modules'));
  const fullEnv = { ...process.env, VEZA_RELEASE_SHA: RELEASE, ...env };
  const log = createMemoryLogger();
  const opts = { workspaceRoot: root, projectRoot: join('apps', name), env: fullEnv, log };
  return { root, projectRoot, env: fullEnv, log, build: () => buildComponent(opts), plan: () => planBuild(opts) };
}

export const run = { command: ['node', 'server.js'], port: 8080, health: '/health' };

export async function listTree(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = prefix + e.name;
    out.push(e.isDirectory() ? `${rel}/` : rel);
    if (e.isDirectory()) out.push(...(await listTree(join(dir, e.name), `${rel}/`)));
  }
  return out;
}
