import type { RuntimeDeclaration } from '../config/component';
import { describeError } from '../log/errors';
import type { ReleaseManifest } from '../release/manifest';
import type { HistoryEntry } from '../state/history';
import type { Context } from './context';
import { describePending, pendingMigrations, type ArtifactFile, type PendingMigrations } from './pending-migrations';
import { heldDeclarations } from './phases';
import { fetchRelease } from './release';

/**
 * What a release changes against the one serving: per component, its
 * artifact (version, sha256, size), every declaration that moved (health
 * path, routes, needs, command…) and the environment variable names it
 * gains or drops — names only, never values — and the migrations it would
 * apply to the live database. Printed by the deploy before any slot
 * changes, and by its dry-run.
 */
export interface ComponentDiff {
  component: string;
  change: 'added' | 'removed' | 'changed' | 'unchanged';
  artifact?: { from?: ArtifactFacts; to?: ArtifactFacts };
  /** One line per declaration key that differs: `run.health: /health → /ready`, `edge.prefixes: + /api/v2`. */
  declarations: string[];
  varsAdded: string[];
  varsRemoved: string[];
}

export interface ArtifactFacts {
  version: string;
  sha256: string;
  size: number;
}

export interface ReleaseDiff {
  from?: string;
  to: string;
  components: ComponentDiff[];
  /** Per component declaring migrations, in the release: what it would apply (or why that is unknown). */
  migrations?: PendingMigrations[];
}

export interface DiffSide {
  manifest: ReleaseManifest;
  declarations: readonly RuntimeDeclaration[];
}

/**
 * `next` against what `held` (the history entry of the serving colour)
 * runs, and a line saying against what. Reads only, and never fails: a live
 * manifest the registry lost is reported, and everything shows as new; the
 * pending migrations are read with `next`'s own tool from `artifactOf`.
 */
export async function diffAgainstLive(ctx: Context, held: HistoryEntry | undefined, next: DiffSide, artifactOf: (component: string) => Promise<ArtifactFile>): Promise<{ diff: ReleaseDiff; against: string }> {
  const live = held ? await fetchRelease(ctx.ports.registry(), held.manifest.owner, held.sha, held.manifest.sha256).catch((e) => describeError(e)) : undefined;
  const diff = diffReleases(held && typeof live === 'object' ? { manifest: live.manifest, declarations: heldDeclarations(ctx, held) } : undefined, next);
  diff.migrations = await pendingMigrations(ctx, next.declarations, artifactOf);
  const against = !held ? 'nothing serves yet: every component is new'
    : typeof live === 'string' ? `the live release ${held.sha}'s manifest could not be read (${live}): shown as new`
    : `against ${held.sha} on ${held.color}`;
  return { diff, against };
}

export function diffReleases(live: DiffSide | undefined, next: DiffSide): ReleaseDiff {
  const names = [...new Set([...Object.keys(live?.manifest.components ?? {}), ...Object.keys(next.manifest.components)])].sort();
  return {
    ...(live ? { from: live.manifest.sha } : {}),
    to: next.manifest.sha,
    components: names.map((name) => diffComponent(name, live, next)),
  };
}

function diffComponent(name: string, live: DiffSide | undefined, next: DiffSide): ComponentDiff {
  const a = live?.manifest.components[name];
  const b = next.manifest.components[name];
  const da = live?.declarations.find((d) => d.name === name);
  const db = next.declarations.find((d) => d.name === name);
  const declarations = da && db ? declarationChanges(da, db) : [];
  const vars = (d?: RuntimeDeclaration) => new Set(d ? [...d.run.env.required, ...d.run.env.optional] : []);
  const [va, vb] = [vars(da), vars(db)];
  const artifactMoved = a?.sha256 !== b?.sha256;
  const change = !a ? 'added' : !b ? 'removed' : artifactMoved || declarations.length ? 'changed' : 'unchanged';
  return {
    component: name,
    change,
    ...(artifactMoved ? { artifact: { ...(a ? { from: facts(a) } : {}), ...(b ? { to: facts(b) } : {}) } } : {}),
    declarations,
    varsAdded: [...vb].filter((v) => !va.has(v)).sort(),
    varsRemoved: [...va].filter((v) => !vb.has(v)).sort(),
  };
}

function facts(c: ArtifactFacts): ArtifactFacts {
  return { version: c.version, sha256: c.sha256, size: c.size };
}

/** Leaf by leaf: lists of strings as what was added and removed, anything else as before → after. */
function declarationChanges(a: RuntimeDeclaration, b: RuntimeDeclaration): string[] {
  const fa = flatten(a);
  const fb = flatten(b);
  const out: string[] = [];
  for (const key of [...new Set([...fa.keys(), ...fb.keys()])].sort()) {
    if (key === 'run.env.required' || key === 'run.env.optional') continue;
    const x = fa.get(key);
    const y = fb.get(key);
    if (JSON.stringify(x) === JSON.stringify(y)) continue;
    if (isStrings(x ?? []) && isStrings(y ?? [])) {
      const added = (y as string[] ?? []).filter((s) => !(x as string[] ?? []).includes(s));
      const removed = (x as string[] ?? []).filter((s) => !(y as string[] ?? []).includes(s));
      const moved = [...added.map((s) => `+ ${s}`), ...removed.map((s) => `- ${s}`)];
      out.push(`${key}: ${moved.length ? moved.join(', ') : `${JSON.stringify(x)} → ${JSON.stringify(y)}`}`);
    } else {
      out.push(`${key}: ${show(x)} → ${show(y)}`);
    }
  }
  return out;
}

function flatten(v: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out.set(prefix, v);
  }
  return out;
}

function isStrings(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

function show(v: unknown): string {
  return v === undefined ? '(none)' : typeof v === 'string' ? v : JSON.stringify(v);
}

/** The lines the deploy prints; `unchanged` components are one line each. */
export function describeDiff(d: ReleaseDiff): string[] {
  const lines: string[] = [];
  for (const c of d.components) {
    const art = c.artifact
      ? `${c.artifact.from ? `${c.artifact.from.version.slice(0, 12)} ${c.artifact.from.sha256.slice(0, 12)}… ${size(c.artifact.from.size)}` : 'none'} → ${c.artifact.to ? `${c.artifact.to.version.slice(0, 12)} ${c.artifact.to.sha256.slice(0, 12)}… ${size(c.artifact.to.size)}` : 'none'}`
      : 'same artifact';
    lines.push(`${c.component}: ${c.change}${c.change === 'unchanged' ? '' : ` (${art})`}`);
    for (const l of c.declarations) lines.push(`  ${l}`);
    if (c.varsAdded.length) lines.push(`  variables added: ${c.varsAdded.join(', ')}`);
    if (c.varsRemoved.length) lines.push(`  variables removed: ${c.varsRemoved.join(', ')}`);
  }
  for (const m of d.migrations ?? []) lines.push(describePending(m));
  return lines;
}

function size(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}
