import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openContext, type CommonOptions } from './context';
import { resolveSource } from './deploy';
import { diffAgainstLive, type ReleaseDiff } from './diff';
import { releaseArtifact, workspaceRelease } from './preflight';
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
  // Only the artifacts of components with migrations are read (their status tool runs from them); a download goes to a temp folder.
  const staging = await fs.mkdtemp(join(tmpdir(), 'veza-diff-'));
  try {
    const artifactOf = (component: string) => releaseArtifact(ctx, source.kind, staging, component, release.manifest.components[component]!);
    const { diff, against } = await diffAgainstLive(ctx, current.entry, { manifest: release.manifest, declarations: releaseDeclarations(release.manifest, ctx.components) }, artifactOf);
    return { env: ctx.env.name, against, ...diff };
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}
