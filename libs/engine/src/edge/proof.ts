import { createHash } from 'node:crypto';
import type { Logger } from '../log/logger';
import { configShape } from './apply';
import type { EdgeHost } from './edge-host';

/**
 * `haproxy -c` costs about 100 ms of CPU here — most of a switch's budget.
 * A switch usually changes nothing but which servers start `disabled`, and
 * that keyword is valid on every server line, so a config is valid exactly
 * when its shape (the text without those flags and the colour comments) is.
 * Shapes haproxy -c accepted on this edge are remembered in its state; a
 * config whose shape is among them needs no second check. Anything else —
 * a new declaration, a new template, a broken renderer — is checked in full.
 */
const KEY = 'edge-proven-shapes';
const KEEP = 16;

function shapeHash(text: string): string {
  return createHash('sha256').update(configShape(text)).digest('hex');
}

/** `remember: false` (dry-runs) checks without recording the shape. */
export async function proveConfig(host: EdgeHost, text: string, log: Logger, remember = true): Promise<void> {
  const hash = shapeHash(text);
  const known = ((await host.state.read(KEY)) ?? '').split('\n').filter(Boolean);
  if (known.includes(hash)) {
    log.debug(`haproxy -c: this config's shape (${hash.slice(0, 12)}) was already accepted on ${host.edge}`);
    return;
  }
  const res = await host.validate(text);
  for (const s of res.substitutions) log.info(`haproxy -c: ${s.original} does not exist here; checked with a throwaway ${s.kind}`);
  if (remember) await host.state.write(KEY, [hash, ...known.filter((h) => h !== hash)].slice(0, KEEP).join('\n') + '\n');
}
