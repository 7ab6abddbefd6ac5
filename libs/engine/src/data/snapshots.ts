import { promises as fs } from 'node:fs';
import { join } from 'node:path';

/**
 * Pre-deploy snapshots: `pre-deploy-<release>.dump` (pg_dump custom format)
 * in the environment's snapshots folder. One per release, taken before its
 * migrations run (seed 001, deploy_data); the newest N are kept.
 */
const SNAPSHOT_FILE = /^pre-deploy-([0-9a-f]{40}|local-[0-9a-f]{12})\.dump$/;
/** A dump that was being written when its pg_dump died; the next run overwrites or prunes it. */
const PARTIAL_FILE = /^\.pre-deploy-([0-9a-f]{40}|local-[0-9a-f]{12})\.dump\.partial$/;

export interface SnapshotInfo {
  name: string;
  release: string;
  path: string;
  size: number;
  createdAt: Date;
}

export function snapshotName(release: string): string {
  return `pre-deploy-${release}`;
}

export function snapshotFile(dir: string, release: string): { path: string; partial: string } {
  return { path: join(dir, `${snapshotName(release)}.dump`), partial: join(dir, `.${snapshotName(release)}.dump.partial`) };
}

/** Complete snapshots, oldest first. */
export async function listSnapshotFiles(dir: string): Promise<SnapshotInfo[]> {
  const out: SnapshotInfo[] = [];
  for (const f of await fs.readdir(dir).catch(() => [] as string[])) {
    const m = SNAPSHOT_FILE.exec(f);
    if (!m) continue;
    const st = await fs.stat(join(dir, f)).catch(() => undefined);
    if (st) out.push({ name: f.slice(0, -'.dump'.length), release: m[1]!, path: join(dir, f), size: st.size, createdAt: st.mtime });
  }
  return out.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.name.localeCompare(b.name));
}

export async function listPartialFiles(dir: string): Promise<string[]> {
  return (await fs.readdir(dir).catch(() => [] as string[])).filter((f) => PARTIAL_FILE.test(f)).map((f) => join(dir, f));
}

/**
 * The snapshots to delete so that `retention` remain, oldest first. Those of
 * `keep` (the release now live and the one before it, which a rollback
 * returns to) always stay, whatever the retention: only a deploy that
 * succeeded prunes, so a refused or failed one never costs a backup.
 */
export function snapshotsToPrune(existing: SnapshotInfo[], keep: readonly string[], retention: number): SnapshotInfo[] {
  const kept = new Set(keep.map(snapshotName));
  const others = existing.filter((s) => !kept.has(s.name));
  const room = Math.max(retention - existing.filter((s) => kept.has(s.name)).length, 0);
  return others.slice(0, Math.max(others.length - room, 0));
}
