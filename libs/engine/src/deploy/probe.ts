import { setTimeout as sleep } from 'node:timers/promises';
import type { HostDriver } from '../hosts/port';
import { describeError, VezaError } from '../log/errors';
import type { DeployEdge } from './edge-port';
import { describeTarget, httpGet, type HttpRequest, type HttpResponse } from '../util/http';
import { askUntilAnswered } from '../util/ask-again';

/**
 * The deploy's HTTP checks (seed 001): the in-slot health probe (phase C,
 * through the host driver, from where the slot runs), the probe from the
 * edge host (D), and the external verification through the public URL (F).
 * A port of its own, so a dry-run can list them instead of making them
 * against slots that do not exist.
 */
export interface SlotTarget {
  component: string;
  slot: string;
  host: string;
  port: number;
  path: string;
}

export interface Wait {
  timeoutMs: number;
  intervalMs: number;
}

export interface Checks {
  /** Phase C: the slot answers 2xx on its health path, probed from inside it, within `wait.timeoutMs`. */
  waitHealthy(t: SlotTarget, wait: Wait): Promise<void>;
  /** Phase D: the edge host reaches the slot and gets 2xx. */
  fromEdge(t: SlotTarget, wait: Wait): Promise<void>;
  /** Phase F: `path` through the public URL reports `release`, within `retries` tries. */
  /** `hostHeader`: another host the edge serves, e.g. the environment's preview host, instead of the public URL's. */
  publicRelease(component: string, path: string, release: string, retry: { retries: number; intervalMs: number }, hostHeader?: string): Promise<void>;
  /** One read-only in-slot probe: whether the slot answers 2xx now (status, already-deployed, fast rollback). */
  isHealthy(t: SlotTarget): Promise<boolean>;
}

/** One probe's own deadline; the waits above bound the whole. */
const PROBE_TIMEOUT_MS = 2_000;

export function createChecks(edge: DeployEdge, driver: HostDriver, get: (r: HttpRequest) => Promise<HttpResponse> = httpGet): Checks {
  const direct = (t: SlotTarget): HttpRequest => ({ host: t.host, port: t.port, path: t.path, timeoutMs: PROBE_TIMEOUT_MS });
  return {
    async waitHealthy(t, wait) {
      let where = `${t.path} on port ${t.port}`;
      await until(wait, async () => {
        const p = await driver.probe(t.slot, t.port, t.path, PROBE_TIMEOUT_MS);
        where = p.target;
        if (p.status === undefined) throw new Error(p.error ?? 'no answer');
        return { status: p.status };
      }, () => `slot ${t.slot} did not answer 2xx on ${where} within ${wait.timeoutMs} ms`);
    },
    async fromEdge(t, wait) {
      await until(wait, () => edge.probeFromEdge({ host: t.host, port: t.port, path: t.path }),
        () => `edge ${edge.name} cannot reach slot ${t.slot} at ${describeTarget(direct(t))} (it answers from inside, so check the address the edge uses)`);
    },
    async publicRelease(component, path, release, retry, hostHeader) {
      const pub = edge.publicTarget();
      const req: HttpRequest = { host: pub.host, port: pub.port, hostHeader: hostHeader ?? pub.hostHeader, path: joinPath(pub.basePath, path), timeoutMs: PROBE_TIMEOUT_MS };
      let last = 'no answer';
      for (let i = 0; i < retry.retries; i++) {
        if (i > 0) await sleep(retry.intervalMs);
        try {
          const res = await get(req);
          const seen = res.status >= 200 && res.status < 300 ? reportedRelease(res.body) : undefined;
          if (seen === release) return;
          last = res.status >= 200 && res.status < 300 ? `it reports release ${seen ?? '(none)'}` : `HTTP ${res.status}`;
        } catch (e) {
          last = describeError(e);
        }
      }
      throw new VezaError(
        `${component} through ${describeTarget(req)} does not report release ${release} after ${retry.retries} tries: ${last}`,
        'the new colour passed its health checks but is not what the public URL serves; read its logs (command below) and the edge config',
        'VERIFY_FAILED',
      );
    },
    async isHealthy(t) {
      const p = await askUntilAnswered(() => driver.probe(t.slot, t.port, t.path, PROBE_TIMEOUT_MS).catch(() => undefined), (r) => r?.status !== undefined);
      return p?.status !== undefined && p.status >= 200 && p.status < 300;
    },
  };
}

/**
 * A file the probe needs (the slot's pid file, its folder) that cannot be
 * read is no slow start: waiting would only turn it into a timed-out health
 * check that blames the slot. Say which path and which operation failed.
 */
function filesystemError(e: unknown): VezaError | undefined {
  const f = e as NodeJS.ErrnoException;
  if (!(f instanceof Error) || typeof f.syscall !== 'string' || typeof f.path !== 'string') return undefined;
  return new VezaError(`${f.syscall} ${f.path} failed (${f.code ?? f.message}) while probing the slot`,
    'check that path: it must be a folder or file the deploying user owns and can read (ls -ld it); then deploy again', 'FILESYSTEM_ERROR');
}

async function until(wait: Wait, probe: () => Promise<{ status: number }>, failure: () => string): Promise<void> {
  const deadline = Date.now() + wait.timeoutMs;
  let last = 'no answer';
  for (;;) {
    try {
      const res = await probe();
      if (res.status >= 200 && res.status < 300) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      const local = filesystemError(e);
      if (local) throw local;
      last = describeError(e);
    }
    if (Date.now() + wait.intervalMs > deadline) break;
    await sleep(wait.intervalMs);
  }
  throw new VezaError(`${failure()}; last: ${last}`, 'read the slot log (command below); the edge was not switched', 'HEALTH_FAILED');
}

/** The `release` field of a component's status document (component.json run.status). */
export function reportedRelease(body: string): string | undefined {
  try {
    const v = (JSON.parse(body) as { release?: unknown }).release;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

function joinPath(base: string, path: string): string {
  return base === '/' || base === '' ? path : `${base.replace(/\/+$/, '')}${path}`;
}
