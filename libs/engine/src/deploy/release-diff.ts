import { openContext, type CommonOptions } from './context';
import { resolveSource } from './deploy';
import { diffAgainstLive, type ReleaseDiff } from './diff';
import { workspaceRelease } from './preflight';
import { releaseDeclarations } from './release';
import { currentRelease } from '../state/history';

/**
 * `veza diff [--sha=S]`: what deploying S (default: what the workspace
 * builds) would change against the release serving — the deploy's own
 * `diff` phase, without the deploy. Reads only: no lock, no audit line.
 */
export interface DiffOptions extends CommonOptions {
  sha?: string;
}

export interface DiffReport extends ReleaseDiff {
  env: string;
  /** Against what: the live release and its colour, or why everything shows as new. */
  against: string;
}

export async function releaseDiff(o: DiffOptions): Promise<DiffReport> {
  const ctx = await openContext(o, (env) => `diff ${env.name}`);
  const source = await resolveSource(ctx, o.sha);
  const release = source.kind === 'published' ? source.release : await workspaceRelease(ctx, source.sha);
  const current = await currentRelease(ctx.ports.store, ctx.env.name);
  const { diff, against } = await diffAgainstLive(ctx, current.entry, { manifest: release.manifest, declarations: releaseDeclarations(release.manifest, ctx.components) });
  return { env: ctx.env.name, against, ...diff };
}
