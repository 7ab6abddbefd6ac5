import * as cli from '../../hosts/incus/cli';
import type { Snapshot } from '../../hosts/incus/json';
import type { PlanStep } from '../plan';
import { snapshotName, snapshotsToPrune, type SnapshotInfo } from '../snapshots';

/**
 * `incus snapshot create <container> pre-deploy-<release>` for every data
 * container, skipped where it exists (a re-run, or the same release again),
 * then the oldest pre-deploy snapshots pruned so `retention` remain — the
 * one just asked for always among them. Snapshots named otherwise (an
 * operator's) are never touched.
 */
export interface ContainerSnapshots {
  container: string;
  snapshots: Snapshot[];
}

export function planSnapshots(scope: cli.IncusScope, containers: ContainerSnapshots[], release: string, retention: number): { steps: PlanStep[]; notes: string[] } {
  const name = snapshotName(release);
  const steps: PlanStep[] = [];
  const notes: string[] = [];
  for (const c of containers) {
    const ours: SnapshotInfo[] = c.snapshots
      .filter((s) => s.name.startsWith('pre-deploy-'))
      .map((s) => ({ name: s.name, release: s.name.slice('pre-deploy-'.length), path: `${c.container}/${s.name}`, size: 0, createdAt: s.createdAt }));
    if (ours.some((s) => s.name === name)) notes.push(`snapshot ${c.container}/${name} exists: kept`);
    else steps.push({ kind: 'run', title: `snapshot ${c.container} as ${name}`, command: cli.snapshotCreate(scope, c.container, name) });
    for (const old of snapshotsToPrune(ours, name, retention)) {
      steps.push({ kind: 'run', title: `prune snapshot ${old.path} (keeping ${retention})`, command: cli.snapshotDelete(scope, c.container, old.name) });
    }
  }
  return { steps, notes };
}
