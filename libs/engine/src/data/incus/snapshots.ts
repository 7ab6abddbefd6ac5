import * as cli from '../../hosts/incus/cli';
import type { Snapshot } from '../../hosts/incus/json';
import type { PlanStep } from '../plan';
import { snapshotName, snapshotsToPrune, type SnapshotInfo } from '../snapshots';

/**
 * `incus snapshot create <container> pre-deploy-<release>` for every data
 * container, skipped where it exists (a re-run, or the same release again).
 * Pruning is its own plan, run only after a deploy succeeded. Snapshots
 * named otherwise (an operator's) are never touched.
 */
export interface ContainerSnapshots {
  container: string;
  snapshots: Snapshot[];
}

export function planSnapshots(scope: cli.IncusScope, containers: ContainerSnapshots[], release: string): { steps: PlanStep[]; notes: string[] } {
  const name = snapshotName(release);
  const steps: PlanStep[] = [];
  const notes: string[] = [];
  for (const c of containers) {
    if (preDeploySnapshots(c).some((s) => s.name === name)) notes.push(`snapshot ${c.container}/${name} exists: kept`);
    else steps.push({ kind: 'run', title: `snapshot ${c.container} as ${name}`, command: cli.snapshotCreate(scope, c.container, name) });
  }
  return { steps, notes };
}

/** Per container, the pre-deploy snapshots beyond `retention`, never those of `keep`. */
export function planSnapshotPrune(scope: cli.IncusScope, containers: ContainerSnapshots[], keep: readonly string[], retention: number): PlanStep[] {
  return containers.flatMap((c) => snapshotsToPrune(preDeploySnapshots(c), keep, retention).map((old): PlanStep => (
    { kind: 'run', title: `prune snapshot ${old.path} (keeping ${retention} and the live and previous releases')`, command: cli.snapshotDelete(scope, c.container, old.name) })));
}

export function preDeploySnapshots(c: ContainerSnapshots): SnapshotInfo[] {
  return c.snapshots
    .filter((s) => s.name.startsWith('pre-deploy-'))
    .map((s) => ({ name: s.name, release: s.name.slice('pre-deploy-'.length), path: `${c.container}/${s.name}`, size: 0, createdAt: s.createdAt }))
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.name.localeCompare(b.name));
}
