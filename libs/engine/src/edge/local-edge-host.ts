import { promises as fs } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { validate as names } from '../config/names';
import { VezaError } from '../log/errors';
import { createProcessRunner, type Command, type ProcessRunner } from '../ports/process';
import { createDirStateStore } from '../ports/state-store';
import { writeFileAtomic } from '../util/atomic';
import { httpGet } from '../util/http';
import { identify, isAlive, signalIfAlive } from '../util/proc';
import { EDGE_DIR_VAR } from '../config/edge';
import type { EdgeHost, EdgeHostStatus, ProbeResult } from './edge-host';
import { masterWorker } from './master-worker';
import { cliRequest } from './runtime-api';
import { validateHaproxyConfig } from './validate';

/**
 * The local edge: a real HAProxy in master-worker mode, daemonized so it
 * outlives the command that started it, with everything it needs in
 * `.veza/edges/<edge>/`: haproxy.cfg (+ .bak), master.sock (master CLI:
 * reload, and the Runtime API of the current worker through `@1`),
 * admin.sock, haproxy.pid and state/. A later command finds it again by the
 * pid file, checked against /proc so a reused pid is never mistaken for it.
 */
export interface LocalEdgeHostOptions {
  workspaceRoot: string;
  edge: string;
  runner?: ProcessRunner;
  /** Graceful stop (SIGUSR1) waits this long for open connections before SIGTERM. */
  stopTimeoutMs?: number;
  haproxy?: string;
}

export function localEdgeDir(workspaceRoot: string, edge: string): string {
  return join(resolve(workspaceRoot), '.veza', 'edges', names.component(edge));
}

export function createLocalEdgeHost(opts: LocalEdgeHostOptions): EdgeHost {
  const dir = localEdgeDir(opts.workspaceRoot, opts.edge);
  const runner = opts.runner ?? createProcessRunner();
  const stopTimeoutMs = opts.stopTimeoutMs ?? 5_000;
  const p = {
    cfg: join(dir, 'haproxy.cfg'),
    bak: join(dir, 'haproxy.cfg.bak'),
    master: join(dir, 'master.sock'),
    admin: join(dir, 'admin.sock'),
    pid: join(dir, 'haproxy.pid'),
  };
  // sun_path holds 108 bytes; a deep checkout would otherwise fail with a cryptic bind error.
  if (Buffer.byteLength(p.master) > 100) {
    throw new VezaError(`the local edge socket path ${p.master} is too long for a unix socket`, 'move the workspace to a shorter path', 'BAD_CONFIG');
  }
  const vars = { [EDGE_DIR_VAR]: dir };

  const startCommand = (): Command => ({
    argv: [opts.haproxy ?? 'haproxy', '-W', '-D', '-S', `${p.master},mode,600`, '-p', p.pid, '-f', p.cfg],
    env: vars,
    timeoutMs: 30_000,
    description: `start the ${opts.edge} HAProxy (master-worker)`,
  });

  const mw = masterWorker({
    request: (line, timeoutMs) => cliRequest(p.master, line, timeoutMs),
    edge: opts.edge,
    haproxy: 'HAProxy',
    configPath: p.cfg,
    checkCommand: `haproxy -c -f ${p.cfg}`,
    lookHint: `look at ${dir} and the HAProxy messages above`,
    waitMs: 10_000,
    pollMs: 10,
  });

  const status = async (): Promise<EdgeHostStatus> => {
    const text = await fs.readFile(p.pid, 'utf8').catch(() => undefined);
    const pid = text ? Number(text.trim().split('\n')[0]) : NaN;
    if (!Number.isInteger(pid) || pid <= 0) return { running: false, detail: `no pid file in ${dir}` };
    if (!(await isOurHaproxy(pid, p.cfg))) return { running: false, detail: `stale pid file ${p.pid}` };
    return { running: true, pid, detail: `HAProxy master ${pid}, config ${p.cfg}` };
  };

  const host: EdgeHost = {
    kind: 'local',
    edge: opts.edge,
    configPath: p.cfg,
    state: createDirStateStore(join(dir, 'state')),
    vars,
    async readConfig() {
      return fs.readFile(p.cfg, 'utf8').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined;
        throw e;
      });
    },
    async writeConfig(text) {
      await writeFileAtomic(p.cfg, text);
    },
    readFile: (path) => fs.readFile(path, 'utf8').catch(() => undefined),
    async writeFile(path, text, mode) {
      await fs.mkdir(dirname(path), { recursive: true });
      await writeFileAtomic(path, text, { mode });
    },
    listDir: (path) => fs.readdir(path).catch(() => []),
    async backupConfig() {
      // writeConfig renames a new file over the live one, so the live inode is never rewritten:
      // linking it is a complete, already-durable copy, without copying or fsyncing a byte.
      const tmp = `${p.bak}.${process.pid}.tmp`;
      await fs.rm(tmp, { force: true });
      await fs.link(p.cfg, tmp);
      await fs.rename(tmp, p.bak);
    },
    validate: (text) => validateHaproxyConfig(text, { runner, vars, label: p.cfg, haproxy: opts.haproxy }),
    status,
    startCommand,
    async start() {
      if ((await status()).running) return;
      if ((await host.readConfig()) === undefined) throw new VezaError(`no config at ${p.cfg}`, 'run nx run infra-edge:bootstrap, which renders it first', 'EDGE_RUNTIME');
      await fs.rm(p.pid, { force: true });
      await runner.run(startCommand());
      await mw.waitServing();
    },
    async stop() {
      const st = await status();
      const id = st.running && st.pid ? identify(st.pid) : undefined;
      if (id) {
        // SIGUSR1: finish in-flight requests, then exit; SIGTERM if connections outlive the grace period.
        // The identity (pid + start time) taken while status() saw our HAProxy keeps a reused pid safe.
        // Gone means no longer alive (exited, or a zombie) — not "its cmdline no longer names our
        // config": an exiting process loses its cmdline before it is gone, which raced the caller.
        const steps: [NodeJS.Signals, number][] = [['SIGUSR1', stopTimeoutMs], ['SIGTERM', 3_000], ['SIGKILL', 3_000]];
        for (const [signal, waitMs] of steps) {
          if (!signalIfAlive(id, signal)) break;
          const deadline = Date.now() + waitMs;
          while (Date.now() < deadline && isAlive(id)) await sleep(10);
        }
        if (isAlive(id)) throw new VezaError(`HAProxy ${id.pid} did not stop`, `stop it by hand: kill -9 ${id.pid}`, 'EDGE_RUNTIME');
      }
      for (const f of [p.pid, p.master, p.admin]) await fs.rm(f, { force: true });
    },
    reload: mw.reload,
    runtime: mw.runtime,
    runtimePayload: mw.runtimePayload,
    probe: httpProbe,
  };
  return host;
}

/** Any 2xx/3xx is healthy, as HAProxy's own httpchk judges it; a failure is a reason, never a throw. */
async function httpProbe(host: string, port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  try {
    const { status } = await httpGet({ host, port, path, timeoutMs, userAgent: 'veza-edge-probe' });
    return { ok: status >= 200 && status < 400, status };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { ok: false, error: err.code ?? err.message };
  }
}

/** Alive, not a zombie, and HAProxy running our config (a reused pid is someone else's process). */
async function isOurHaproxy(pid: number, cfg: string): Promise<boolean> {
  if (!identify(pid)) return false;
  try {
    const cmdline = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return cmdline.some((a) => a.endsWith('haproxy')) && cmdline.includes(cfg);
  } catch {
    return false;
  }
}
