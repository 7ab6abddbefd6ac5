import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Tree } from '@nx/devkit';
import { WORKSPACE_ROOT } from './workspace-tree';

type After = { after(fn: () => unknown): void };

/**
 * Writes a virtual tree's changes into a throw-away workspace with this
 * repository's node_modules linked in and the shared test support copied,
 * so generated code can be tested, built and run for real.
 */
export async function materialize(t: After, tree: Tree): Promise<string> {
  const root = await fs.mkdtemp(join(tmpdir(), 'veza-gen-'));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  for (const change of tree.listChanges()) {
    if (change.type === 'DELETE') continue;
    await fs.mkdir(dirname(join(root, change.path)), { recursive: true });
    await fs.writeFile(join(root, change.path), change.content!);
  }
  await fs.symlink(join(WORKSPACE_ROOT, 'node_modules'), join(root, 'node_modules'));
  await fs.cp(join(WORKSPACE_ROOT, 'test', 'support'), join(root, 'test', 'support'), { recursive: true });
  return root;
}

export interface Running {
  pid: number;
  /** The first stdout match; rejects if the process ends or `timeoutMs` passes first. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** Starts a process and registers its termination (by pid) with the test, so a failure leaves nothing running. */
export function start(t: After, argv: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Running {
  const child = spawn(argv[0], argv.slice(1), { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err })));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const waitFor = (re: RegExp, timeoutMs = 30_000) => new Promise<RegExpMatchArray>((resolve, reject) => {
    const check = () => {
      const m = out.match(re);
      if (m) finish(() => resolve(m));
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`no ${re} within ${timeoutMs} ms; stdout: ${out} stderr: ${err}`))), timeoutMs);
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      child.stdout.off('data', check);
      settle();
    };
    child.stdout.on('data', check);
    void exited.then((r) => finish(() => reject(new Error(`exited (${r.code ?? r.signal}) before printing ${re}; stdout: ${r.stdout} stderr: ${r.stderr}`))));
    check();
  });
  return { pid: child.pid!, waitFor, exited };
}
