import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify, stripVTControlCharacters } from 'node:util';

const ROOT = join(__dirname, '..', '..', '..');
const TYPESCRIPT_LOADERS = ['typescript', '@swc-node/register', '@swc/core'];

/**
 * Loading TypeScript costs about a second per Nx process, and Nx starts one
 * per uncached task and per plugin. A read-only command with the daemon off
 * runs every kind of process a deploy does (the Nx client, the plugin
 * workers including component-nodes, a task process with one of our
 * executors); a preloaded hook records any module that would compile
 * TypeScript.
 */
test('Nx runs the executors and the component-nodes plugin without loading a TypeScript compiler', async (t) => {
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-no-ts-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const log = join(dir, 'loads.log');
  const hook = join(dir, 'hook.js');
  await fs.writeFile(hook, `
const Module = require('node:module');
const load = Module._load;
Module._load = function (request) {
  if (${JSON.stringify(TYPESCRIPT_LOADERS)}.includes(request)) {
    require('node:fs').appendFileSync(${JSON.stringify(log)}, process.argv.slice(1).join(' ') + ' loads ' + request + '\\n');
  }
  return load.apply(this, arguments);
};
`);
  const nx = (args: string[], env: NodeJS.ProcessEnv) => promisify(execFile)(join(ROOT, 'node_modules', '.bin', 'nx'), args, {
    cwd: ROOT,
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', ...env },
  });
  // The first graph of a checkout is different: Nx's own @nx/js plugin loads typescript once to
  // analyse the sources, and caches the result. What must never load it is a command on a known graph.
  await nx(['show', 'projects'], {});
  const { stdout } = await nx(['run', 'infra-deploy:status', '--env=local'], { NODE_OPTIONS: `--require ${hook}` });
  // Nx colours its output when the environment asks for colour (FORCE_COLOR in CI).
  assert.match(stripVTControlCharacters(stdout), /Successfully ran target status for project infra-deploy/);
  assert.equal(await fs.readFile(log, 'utf8').catch(() => ''), '');
});
