import { PATTERNS, validate, type Color } from '../config/names';
import { VezaError } from '../log/errors';
import type { StateStore } from '../ports/state-store';

/**
 * The edge's own record of its switches, one file per environment
 * (`active-color-<env>.history`, seed 003): newest first, one line each —
 * ISO time, colour, release (or "-" when the switch named none), actor —
 * capped at the environment's retention. Deploy's release history
 * (state/history.ts) says what each colour holds; this says when the edge
 * pointed where, which a manual switch or rollback also changes.
 */
export interface SwitchRecord {
  time: string;
  color: Color;
  sha?: string;
  actor: string;
}

function switchLogKey(env: string): string {
  return `active-color-${validate.env(env)}.history`;
}

export async function readSwitchLog(store: StateStore, env: string): Promise<SwitchRecord[]> {
  const key = switchLogKey(env);
  const text = await store.read(key);
  if (text === undefined) return [];
  return text.split('\n').filter(Boolean).map((line, i) => {
    const [time, color, sha, actor, extra] = line.split('\t');
    if (!time || !actor || extra !== undefined || !PATTERNS.color.test(color ?? '') || (sha !== '-' && !PATTERNS.sha.test(sha ?? '') && !PATTERNS.localVersion.test(sha ?? ''))) {
      throw new VezaError(`${store.location}/${key}:${i + 1} is not a switch record`, 'fix or remove that line; each is: time<TAB>colour<TAB>sha or -<TAB>actor', 'BAD_STATE');
    }
    return { time, color: color as Color, sha: sha === '-' ? undefined : sha, actor };
  });
}

/** Prepends `rec` and keeps the newest `keep` records; the file is replaced atomically. */
export async function recordSwitch(store: StateStore, env: string, rec: SwitchRecord, keep: number): Promise<SwitchRecord[]> {
  if (rec.sha !== undefined) validate.version(rec.sha, true);
  const clean = { ...rec, color: validate.color(rec.color), actor: rec.actor.replace(/\s+/g, '_').slice(0, 64) || 'unknown' };
  const records = [clean, ...(await readSwitchLog(store, env))].slice(0, Math.max(1, keep));
  await store.write(switchLogKey(env), records.map((r) => [r.time, r.color, r.sha ?? '-', r.actor].join('\t')).join('\n') + '\n');
  return records;
}
