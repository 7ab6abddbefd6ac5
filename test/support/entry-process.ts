import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/**
 * Runs a component's real TypeScript entry point as a child process the way
 * `node -r @swc-node/register <file>` does, from the workspace root, so tests
 * exercise the same argv/env/exit-code handling the bundled artifact has.
 */
export const WORKSPACE_ROOT = join(__dirname, '..', '..');

export interface EntryResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunningEntry {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout match; rejects if the process exits or the time runs out first. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<EntryResult>;
}

export function spawnEntry(file: string, args: string[], env: NodeJS.ProcessEnv): RunningEntry {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', file, ...args], {
    cwd: WORKSPACE_ROOT,
    env: { PATH: process.env.PATH, SWC_NODE_PROJECT: process.env.SWC_NODE_PROJECT ?? join(WORKSPACE_ROOT, 'tsconfig.base.json'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<EntryResult>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
  });

  const waitFor = (re: RegExp, timeoutMs = 30_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const m = out.match(re);
        if (!m) return;
        done();
        resolve(m);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${re} on stdout within ${timeoutMs} ms; stdout: ${out} stderr: ${err}`));
      }, timeoutMs);
      const onExit = (r: EntryResult) => {
        done();
        reject(new Error(`exited (${r.code ?? r.signal}) before printing ${re}; stdout: ${r.stdout} stderr: ${r.stderr}`));
      };
      const done = () => {
        clearTimeout(timer);
        child.stdout!.off('data', check);
      };
      child.stdout!.on('data', check);
      void exited.then((r) => {
        if (!out.match(re)) onExit(r);
      });
      check();
    });

  return { child, stdout: () => out, stderr: () => err, waitFor, exited };
}

/** Runs an entry to completion. */
export function runEntry(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<EntryResult> {
  return spawnEntry(file, args, env).exited;
}

/** Starts an entry and registers its termination (by pid) with the test, so a failing test leaves nothing running. */
export function startEntry(t: { after(fn: () => unknown): void }, file: string, env: NodeJS.ProcessEnv): RunningEntry {
  const entry = spawnEntry(file, [], env);
  t.after(async () => {
    if (entry.child.exitCode === null && entry.child.signalCode === null) {
      entry.child.kill('SIGKILL');
      await entry.exited;
    }
  });
  return entry;
}
