import { setTimeout as sleep } from 'node:timers/promises';
import { VezaError } from '../log/errors';
import { parseShowProc, withPayload, type MasterProcInfo } from './runtime-api';

/**
 * How an edge host reaches one HAProxy master (master-worker mode) and how
 * its messages name things. The local edge talks to the master socket
 * directly, the Incus edge through `incus exec … socat`; what they do with
 * the master is the same, and lives here.
 */
export interface MasterCli {
  /** One line to the master CLI; resolves with its answer. */
  request(line: string, timeoutMs?: number): Promise<string>;
  /** The edge's name, for "the <edge> edge did not …". */
  edge: string;
  /** "HAProxy" or "HAProxy in <container>". */
  haproxy: string;
  /** The config file a reload reads. */
  configPath: string;
  /** The command that shows why HAProxy refuses the config. */
  checkCommand: string;
  /** Where to look when HAProxy does not come up. */
  lookHint: string;
  /** Upper bound of one wait; HAProxy answers in milliseconds, it only guards against a wedged process. */
  waitMs: number;
  pollMs: number;
}

export interface MasterWorker {
  showProc(): Promise<MasterProcInfo>;
  /** After a start: a worker exists and answers on the runtime API. */
  waitServing(): Promise<void>;
  /** A master reload; resolves once the new worker serves, throws (old workers still serving) when HAProxy refused the config. */
  reload(): Promise<void>;
  /** Runtime API commands on the current worker. */
  runtime(commands: string[]): Promise<string>;
  /** One Runtime API command with a payload (`set ssl cert <file>` and the PEM) on the current worker. */
  runtimePayload(command: string, payload: string): Promise<string>;
}

export function masterWorker(cli: MasterCli): MasterWorker {
  const showProc = async (): Promise<MasterProcInfo> => parseShowProc(await cli.request('show proc'));

  const waitFor = async <T>(what: string, ready: () => Promise<T | undefined>): Promise<T> => {
    const deadline = Date.now() + cli.waitMs;
    let last = '';
    for (;;) {
      try {
        const v = await ready();
        if (v !== undefined) return v;
      } catch (e) {
        last = (e as Error).message;
      }
      if (Date.now() > deadline) throw new VezaError(`the ${cli.edge} edge did not ${what} within ${cli.waitMs} ms${last ? ` (${last})` : ''}`, cli.lookHint, 'EDGE_RUNTIME');
      await sleep(cli.pollMs);
    }
  };

  const runtime = async (commands: string[]): Promise<string> => {
    for (const c of commands) {
      if (/[;\r\n]/.test(c)) throw new VezaError(`invalid runtime API command ${JSON.stringify(c)}`, 'this is a bug in the caller', 'INVALID_INPUT');
    }
    // `@1` is the current worker, whatever reloads happened since the last call.
    return cli.request(`@1; ${commands.join('; ')}`);
  };

  return {
    showProc,
    runtime,
    runtimePayload: (command, payload) => cli.request(`@1 ${withPayload(command, payload)}`),
    async waitServing() {
      await waitFor('start a worker', async () => ((await showProc()).workers.length ? true : undefined));
      await waitFor('answer on its runtime API', async () => (/^Pid:/m.test(await runtime(['show info'])) ? true : undefined));
    },
    async reload() {
      const before = await showProc();
      const oldPids = new Set(before.workers.map((w) => w.pid));
      // The master re-executes itself and hangs up; it answers again once the new generation is forked.
      await cli.request('reload').catch(() => '');
      const after = await waitFor('finish its reload', async () => {
        const now = await showProc();
        return now.reloads > before.reloads || now.failedReloads > before.failedReloads ? now : undefined;
      });
      if (after.failedReloads > before.failedReloads) {
        throw new VezaError(`${cli.haproxy} refused to reload ${cli.configPath}; the previous workers still serve`, `run ${cli.checkCommand} to see why`, 'EDGE_RELOAD_FAILED');
      }
      const fresh = after.workers.find((w) => !oldPids.has(w.pid));
      if (!fresh) throw new VezaError(`${cli.haproxy} reloaded but no new worker appeared`, cli.lookHint, 'EDGE_RELOAD_FAILED');
      await waitFor('serve from its new worker', async () => (new RegExp(`^Pid: ${fresh.pid}$`, 'm').test(await cli.request(`@!${fresh.pid} show info`)) ? true : undefined));
    },
  };
}
