#!/usr/bin/env node
// Finds *.test.ts files under the given roots (default: the whole workspace)
// and hands them to Node's own test runner with the swc loader, so CI reads
// the runner's standard summary lines. Node 20 has no glob support in --test.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('../..', import.meta.url).pathname;
const skipDirs = new Set(['node_modules', 'dist', '.nx', '.git', 'fixtures', '.veza']);
const args = process.argv.slice(2);
const passthrough = args.filter((a) => a.startsWith('--'));
const roots = args.filter((a) => !a.startsWith('--'));
const tier = process.env.VEZA_TEST_TIER ?? 'default';

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (skipDirs.has(name)) continue;
    const full = join(dir, name);
    const st = statSync(full);
    if (st.isDirectory()) walk(full, out);
    else if (name.endsWith('.test.ts') && matchesTier(name)) out.push(relative(root, full));
  }
  return out;
}

// `default` (npm test) is every test but the Incus tier's, which needs a real
// daemon and root and runs only when asked for. `unit` and `integration` split
// the default tier by file name for the engine's Nx targets, so each is cached
// on its own inputs: a *.integration.test.ts starts HAProxy, PostgreSQL, a
// toolchain build or slot processes.
const TIERS = ['default', 'unit', 'integration', 'incus'];
if (!TIERS.includes(tier)) {
  console.error(`VEZA_TEST_TIER=${tier} is not a test tier; use one of ${TIERS.join(', ')} (or leave it unset for default)`);
  process.exit(2);
}

function matchesTier(name) {
  const kind = name.endsWith('.incus.test.ts') ? 'incus' : name.endsWith('.integration.test.ts') ? 'integration' : 'unit';
  return tier === 'default' ? kind !== 'incus' : kind === tier;
}

const files = (roots.length ? roots : ['libs', 'tools', 'apps', 'infra', 'test'])
  .flatMap((r) => {
    const abs = join(root, r);
    try {
      return statSync(abs).isDirectory() ? walk(abs, []) : [relative(root, abs)];
    } catch {
      return [];
    }
  })
  .sort();

if (files.length === 0) {
  console.error(`no test files found under ${roots.join(', ') || 'the workspace'} (tier ${tier})`);
  process.exit(1);
}

const result = spawnSync(
  process.execPath,
  ['--require', '@swc-node/register', '--test', '--test-concurrency=2', ...passthrough, ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, SWC_NODE_PROJECT: join(root, 'tsconfig.base.json') } },
);
process.exit(result.status ?? 1);
