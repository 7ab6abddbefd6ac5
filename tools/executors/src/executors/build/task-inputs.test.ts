import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';

/**
 * The build and package targets list the engine files they hash by hand in
 * nx.json (so a change to, say, deploy code does not rebuild every
 * component). This keeps that list honest: every file the executor can load
 * must be an input, or Nx would serve a stale artifact from its cache.
 */
const ROOT = resolve(__dirname, '..', '..', '..', '..', '..');
const nxJson = JSON.parse(readFileSync(join(ROOT, 'nx.json'), 'utf8'));
const executors = JSON.parse(readFileSync(join(ROOT, 'tools/executors/executors.json'), 'utf8')).executors;

type Input = string | Record<string, unknown>;

function expand(inputs: Input[], seen = new Set<string>()): { include: RegExp[]; exclude: RegExp[] } {
  const out = { include: [] as RegExp[], exclude: [] as RegExp[] };
  for (const input of inputs) {
    if (typeof input !== 'string') continue;
    const named = nxJson.namedInputs[input];
    if (named) {
      if (seen.has(input)) continue;
      const inner = expand(named, new Set([...seen, input]));
      out.include.push(...inner.include);
      out.exclude.push(...inner.exclude);
    } else if (input.includes('{workspaceRoot}/')) {
      const negated = input.startsWith('!');
      (negated ? out.exclude : out.include).push(globToRegExp(input.replace(/^!/, '').replace('{workspaceRoot}/', '')));
    }
  }
  return out;
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    if (glob.startsWith('**/', i)) { re += '(?:.*/)?'; i += 2; }
    else if (glob.startsWith('**', i)) { re += '.*'; i += 1; }
    else if (glob[i] === '*') re += '[^/]*';
    else re += glob[i].replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function resolveImport(from: string, spec: string): string | undefined {
  const base = spec.startsWith('@veza/engine/') ? join(ROOT, 'libs/engine/src', spec.slice('@veza/engine/'.length))
    : spec.startsWith('.') ? resolve(dirname(from), spec) : undefined;
  if (!base) return undefined;
  return [base, `${base}.ts`, join(base, 'index.ts')].find((p) => existsSync(p) && p.endsWith('.ts'))
    ?? [base].find((p) => existsSync(p));
}

function closure(entry: string): string[] {
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/(?:from\s+|require\(\s*|import\(\s*)'([^']+)'/g)) {
      const dep = resolveImport(file, m[1]);
      if (dep) queue.push(dep);
    }
  }
  return [...seen].map((f) => relative(ROOT, f)).sort();
}

const edgeProject = JSON.parse(readFileSync(join(ROOT, 'infra/edge/project.json'), 'utf8'));
/** Every cached target that runs one of our executors, with the inputs Nx hashes for it. */
const cachedTargets: { label: string; executor: string; inputs: Input[] }[] = [
  ...['build', 'package'].map((t) => ({ label: `the ${t} target (nx.json targetDefaults)`, executor: t, inputs: nxJson.targetDefaults[t].inputs as Input[] })),
  ...Object.entries(edgeProject.targets as Record<string, { executor: string; cache?: boolean; inputs?: Input[] }>)
    .filter(([, t]) => t.cache)
    .map(([name, t]) => ({ label: `infra-edge:${name} (infra/edge/project.json)`, executor: t.executor.split(':')[1]!, inputs: t.inputs ?? [] })),
];

for (const { label, executor, inputs } of cachedTargets) {
  test(`every file the ${executor} executor loads is an input of ${label}`, (t) => {
    const entry = executors[executor];
    if (!entry) return t.skip(`no ${executor} executor registered yet`);
    const dir = join(ROOT, 'tools/executors');
    // `./executors.js#<name>`: the JS entry (and the bundler it loads) runs src/executors/<name>.ts bundled.
    const [entryFile, name] = entry.implementation.split('#');
    const files = [...new Set([
      ...closure(join(dir, entryFile)),
      ...closure(join(dir, 'src/executors', `${name}.ts`)),
      relative(ROOT, join(dir, entry.schema)),
      'tools/executors/executors.json',
    ])].sort();
    const { include, exclude } = expand(inputs);
    const missing = files.filter((f) => !include.some((r) => r.test(f)) || exclude.some((r) => r.test(f)));
    assert.deepEqual(missing, [], `add these to the inputs of ${label}`);
    assert.ok(files.length > 5, `the import walk found the executor's engine modules (${files.join(', ')})`);
  });
}

/**
 * The engine's tests are two cached targets split by file name
 * (libs/engine/project.json): each must hash every file its own tests load,
 * or a change would be served a stale pass from the cache, and none of the
 * other tier's tests, or an edit there would rerun this tier for nothing.
 * Nx itself resolves the inputs here: the integration target re-adds its
 * tests as workspace files after excluding every test from the project's,
 * which a glob model of the inputs would not follow.
 */
const ENGINE = join(ROOT, 'libs/engine');
const engineProject = JSON.parse(readFileSync(join(ENGINE, 'project.json'), 'utf8'));
const engineTests = readdirSync(join(ENGINE, 'src'), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.ts') && !f.split('/').includes('fixtures'))
  .map((f) => join(ENGINE, 'src', f));
const tierOf = (file: string) => (file.endsWith('.integration.test.ts') ? 'integration' : 'unit');

for (const tier of ['unit', 'integration'] as const) {
  const target = `test-${tier}`;
  test(`engine:${target} is cached and hashes every file its tests load and none of the other tier's tests`, async () => {
    const config = engineProject.targets[target] as { cache?: boolean; options: { command: string } };
    assert.equal(config.cache, true, `engine:${target} is cached`);
    assert.match(config.options.command, new RegExp(`^VEZA_TEST_TIER=${tier} node tools/scripts/run-tests\\.mjs libs/engine$`));
    const { stdout } = await promisify(execFile)(join(ROOT, 'node_modules', '.bin', 'nx'), ['show', 'target', 'inputs', `engine:${target}`, '--json'], {
      cwd: ROOT, timeout: 120_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
    });
    const inputs = new Set((JSON.parse(stdout) as { files: string[] }).files);
    const own = engineTests.filter((f) => tierOf(f) === tier);
    const loaded = [...new Set(own.flatMap((f) => closure(f)))].sort();
    assert.deepEqual(loaded.filter((f) => !inputs.has(f)), [], `add these to the inputs of engine:${target} (libs/engine/project.json)`);
    const others = engineTests.filter((f) => tierOf(f) !== tier).map((f) => relative(ROOT, f));
    assert.deepEqual(others.filter((f) => inputs.has(f)), [], `engine:${target} hashes the other tier's tests`);
    assert.ok(own.length > 5 && loaded.length > own.length, `the walk found engine:${target}'s tests and what they load (${own.length} tests, ${loaded.length} files)`);
  });
}
