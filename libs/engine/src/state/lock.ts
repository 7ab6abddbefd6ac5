import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { PATTERNS, validate } from '../config/names';
import { VezaError } from '../log/errors';
import type { Logger } from '../log/logger';
import type { StateStore } from '../ports/state-store';
import { identify, isAlive as processIsAlive, type ProcessIdentity } from '../util/proc';
import { currentActor } from './actor';

/**
 * The per-environment deploy lock, kept in the environment's StateStore (on
 * Incus: the edge container every deployer reaches; locally: a directory).
 *
 * Taking over a stale lock must not let two contenders both win. Only the
 * process that exclusively creates `<lock>.takeover-<token>` may remove the
 * lock whose holder has that token; a taker killed half-way leaves a marker
 * holding its own dead pid, which the next contender takes over the same way
 * (`takeover-<taker token>`), inheriting the right to remove either token.
 * Nothing ever removes a lock it has not proven, under such a marker, to be
 * the stale one it judged.
 *
 * The same machinery guards an edge (environments sharing an edge each hold
 * their own deploy lock, yet their switches rewrite one file). Environments
 * and edges are separate key spaces, so no environment name can ever name an
 * edge's lock.
 */

declare const lockNameBrand: unique symbol;

/** What a lock guards; made only by envLock and edgeLock, which check the name. */
export type LockName = { readonly scope: 'env' | 'edge'; readonly name: string; readonly [lockNameBrand]: true };

export function envLock(env: string): LockName {
  const name: string = validate.env(env);
  return { scope: 'env', name } as LockName;
}

export function edgeLock(edge: string): LockName {
  if (!PATTERNS.component.test(edge)) throw new VezaError(`invalid edge name ${JSON.stringify(edge)}`, 'edge names are the infra/edges/<name>.yaml file names, [a-z][a-z0-9-]*', 'INVALID_INPUT');
  return { scope: 'edge', name: edge } as LockName;
}

const holderFields = {
  action: z.string().regex(/^[a-z][a-z-]{0,30}$/),
  user: z.string().min(1).max(200),
  host: z.string().min(1).max(253),
  pid: z.number().int().positive(),
  /** Field 22 of /proc/<pid>/stat: tells a reused pid from the original process. */
  pidStart: z.string().regex(/^\d+$/),
  /** /proc/sys/kernel/random/boot_id: after a reboot every recorded pid is gone. */
  bootId: z.string().min(1).max(64),
  startedAt: z.string(),
  sha: z.string().optional(),
  token: z.string().regex(/^[0-9a-f]{32}$/),
};

// A deploy holder names its environment, an edge holder its edge: the field says which lock the file is.
const holderSchema = z.union([
  z.object({ ...holderFields, env: z.string().regex(PATTERNS.env) }),
  z.object({ ...holderFields, edge: z.string().regex(PATTERNS.component) }),
]);

export type LockHolder = z.infer<typeof holderSchema>;


export interface LockRequest {
  /** What the holder is doing: deploy, rollback, cleanup, down, switch, unlock… */
  action: string;
  sha?: string;
  /** Defaults come from currentActor(); tests and CI may set them. */
  user?: string;
}

export interface LockOptions {
  /** Whether the recorded process (pid, start time, boot) still runs on this host. */
  isAlive?: (id: ProcessIdentity) => boolean;
  logger?: Logger;
  now?: () => Date;
}

export interface HeldLock {
  readonly holder: LockHolder;
  /** Removes the lock if it is still ours; false when it is not (taken over or force-unlocked). */
  release(): Promise<boolean>;
}

const MAX_ATTEMPTS = 50;

/**
 * The action of a lock an operator takes to keep deploys out (`veza lock`,
 * e.g. during an incident): never judged stale, whatever became of the
 * process that took it; only unlock removes it.
 */
export const OPERATOR_HOLD = 'hold';

export function lockKey(lock: LockName): string {
  return lock.scope === 'env' ? `locks/${lock.name}.lock` : `locks/edges/${lock.name}.lock`;
}

function takeoverKey(lock: LockName, token: string): string {
  return `${lockKey(lock)}.takeover-${token}`;
}

/** For messages: `prod deploy lock`, `veza-haproxy edge lock`. */
function lockLabel(lock: LockName): string {
  return `${lock.name} ${lock.scope === 'env' ? 'deploy' : 'edge'} lock`;
}

/** The way out when a holder is gone for good: the audited unlock command for an environment; edges have none. */
function unlockHint(store: StateStore, lock: LockName): string {
  return lock.scope === 'env' ? `nx run infra-deploy:unlock --env=${lock.name}` : `remove ${store.location}/${lockKey(lock)}`;
}

/**
 * Takes `lock` or fails at once naming the holder. A holder
 * on this host whose process is gone is taken over (with a warning); a holder
 * on another host cannot be checked from here and is never taken over.
 */
export async function acquireLock(store: StateStore, lock: LockName, request: LockRequest, opts: LockOptions = {}): Promise<HeldLock> {
  const key = lockKey(lock);
  const action = request.action;
  if (!/^[a-z][a-z-]{0,30}$/.test(action)) throw new VezaError(`invalid lock action ${JSON.stringify(action)}`, 'this is a bug in the caller; actions are lower-case words such as deploy');
  if (request.sha !== undefined) validate.version(request.sha, true);
  const self = thisProcess();
  const isAlive = opts.isAlive ?? processIsAlive;
  const now = opts.now ?? (() => new Date());
  const holder: LockHolder = holderSchema.parse({
    [lock.scope]: lock.name,
    action,
    user: request.user ?? currentActor().user,
    host: self.host,
    pid: self.id.pid,
    pidStart: self.id.startTime,
    bootId: self.id.bootId,
    startedAt: now().toISOString(),
    sha: request.sha,
    token: randomBytes(16).toString('hex'),
  });
  const text = JSON.stringify(holder) + '\n';
  const judge = (h: LockHolder) => judgeHolder(h, self, isAlive);

  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (await store.createExclusive(key, text)) return heldLock(store, lock, holder);
    const current = await readHolder(store, lock, key);
    if (!current) continue; // released between our two calls
    const verdict = judge(current);
    if (!verdict.stale) throw heldError(store, lock, current, verdict, now());
    if (await seize(store, lock, text, [current], judge)) {
      opts.logger?.warn(`took over the stale ${lockLabel(lock)}: ${describeHolder(current)} (${verdict.reason})`, { staleHolder: current });
      return heldLock(store, lock, holder);
    }
    // Another contender is mid-takeover; its lock appears within a few file operations.
    await sleep(5 + attempt * 2);
  }
  throw new VezaError(
    `could not take the ${lockLabel(lock)} in ${store.location}: it kept changing hands`,
    `another ${lock.scope === 'env' ? 'deploy' : 'switch'} of ${lock.name} is starting; wait for it, then retry`,
    'LOCK_CONTENDED',
  );
}

/** Runs `fn` under the lock and releases it however `fn` ends. */
export async function withLock<T>(store: StateStore, lock: LockName, request: LockRequest, fn: (held: HeldLock) => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const held = await acquireLock(store, lock, request, opts);
  try {
    return await fn(held);
  } finally {
    await held.release();
  }
}

/** Removes the lock only if `token` still holds it: never someone else's lock. */
export async function releaseLock(store: StateStore, lock: LockName, token: string): Promise<boolean> {
  const current = await readHolder(store, lock, lockKey(lock));
  if (current?.token !== token) return false;
  await store.remove(lockKey(lock));
  return true;
}

/** The current holder, for status and for the unlock command's message. */
export async function readLock(store: StateStore, lock: LockName): Promise<LockHolder | undefined> {
  return readHolder(store, lock, lockKey(lock));
}

/**
 * Removes the lock whoever holds it; for `infra-deploy:unlock`, when the
 * operator knows the holder is gone (e.g. it ran on a host that no longer exists).
 */
export async function forceUnlock(store: StateStore, lock: LockName): Promise<LockHolder | undefined> {
  const key = lockKey(lock);
  const text = await store.read(key);
  if (text === undefined) return undefined;
  const parsed = parseHolder(text);
  await store.remove(key);
  if (parsed) await store.remove(takeoverKey(lock, parsed.token));
  return parsed;
}

export function describeHolder(h: LockHolder): string {
  return `${h.action}${h.sha ? ` of ${h.sha}` : ''} by ${h.user} on ${h.host} (pid ${h.pid}) since ${h.startedAt}`;
}

/**
 * Tries to replace the stale lock held by the last of `chain`. `chain` grows
 * when the marker for that token belongs to a taker that died half-way.
 */
async function seize(store: StateStore, lock: LockName, text: string, chain: LockHolder[], judge: (h: LockHolder) => Verdict): Promise<boolean> {
  const key = lockKey(lock);
  const last = chain[chain.length - 1]!;
  const marker = takeoverKey(lock, last.token);
  if (await store.createExclusive(marker, text)) {
    try {
      const current = await readHolder(store, lock, key);
      if (current && chain.some((h) => h.token === current.token)) await store.remove(key);
      return await store.createExclusive(key, text);
    } finally {
      // Ours, and those of the dead takers whose right we inherited.
      for (const h of chain) await store.remove(takeoverKey(lock, h.token));
    }
  }
  const taker = await readHolder(store, lock, marker);
  if (!taker || !judge(taker).stale) return false;
  return seize(store, lock, text, [...chain, taker], judge);
}

interface Verdict {
  stale: boolean;
  reason: string;
}

function judgeHolder(h: LockHolder, self: Self, isAlive: (id: ProcessIdentity) => boolean): Verdict {
  // Its process was only the command that took it: the lock outlives it on purpose.
  if (h.action === OPERATOR_HOLD) return { stale: false, reason: 'an operator holds it on purpose (`veza lock`) until `veza unlock`' };
  if (h.host !== self.host) return { stale: false, reason: `it runs on host ${h.host}, whose processes cannot be checked from ${self.host}` };
  if (h.bootId !== self.id.bootId) return { stale: true, reason: `${h.host} has rebooted since` };
  if (!isAlive({ pid: h.pid, startTime: h.pidStart, bootId: h.bootId })) return { stale: true, reason: `pid ${h.pid} is no longer running` };
  return { stale: false, reason: `pid ${h.pid} is still running` };
}

function heldError(store: StateStore, lock: LockName, h: LockHolder, verdict: Verdict, now: Date): VezaError {
  const since = `${h.startedAt} (${formatAge(now.getTime() - Date.parse(h.startedAt))} ago)`;
  const what = lock.scope === 'env' ? lock.name : `the ${lock.name} edge`;
  return new VezaError(
    `${what} is locked by a ${h.action}${h.sha ? ` of release ${h.sha}` : ''} by ${h.user} on ${h.host}, pid ${h.pid}, since ${since}: ${verdict.reason} (lock: ${store.location}/${lockKey(lock)})`,
    `wait for it to finish, or if you are sure it is dead: ${unlockHint(store, lock)}`,
    'LOCKED',
  );
}

function formatAge(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '0s';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const r = holderSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** `key` is the lock's own file or one of its takeover markers. */
async function readHolder(store: StateStore, lock: LockName, key: string): Promise<LockHolder | undefined> {
  const text = await store.read(key);
  if (text === undefined) return undefined;
  const h = parseHolder(text);
  if (!h) {
    throw new VezaError(
      `the lock file ${store.location}/${key} is not a valid lock`,
      `if no ${lock.scope === 'env' ? 'deploy' : 'switch'} of ${lock.name} is running: ${unlockHint(store, lock)}`,
      'LOCK_INVALID',
    );
  }
  return h;
}

function heldLock(store: StateStore, lock: LockName, holder: LockHolder): HeldLock {
  return { holder, release: () => releaseLock(store, lock, holder.token) };
}

interface Self {
  host: string;
  id: ProcessIdentity;
}

function thisProcess(): Self {
  const id = identify(process.pid);
  if (!id) throw new VezaError('cannot read /proc/self/stat, which the deploy lock uses to tell live holders from dead ones', 'run the deploy on Linux with /proc mounted', 'NO_PROC');
  return { host: currentActor().host, id };
}
