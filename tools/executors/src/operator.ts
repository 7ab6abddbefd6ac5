import type { z } from 'zod';
import type { Workspace } from '@veza/engine/config/workspace';
import { releaseDiff } from '@veza/engine/deploy/release-diff';
import { describeDiff } from '@veza/engine/deploy/diff';
import { promote } from '@veza/engine/deploy/promote';
import { rollback } from '@veza/engine/deploy/rollback';
import { formatHistory, formatStatus, history, status } from '@veza/engine/deploy/status';
import { lock, unlock } from '@veza/engine/deploy/unlock';
import { switchColor } from '@veza/engine/edge/switch';
import type { Logger } from '@veza/engine/log/logger';
import type { schema as diffSchema } from './executors/diff/options';
import type { schema as historySchema } from './executors/history/options';
import type { schema as promoteSchema } from './executors/promote/options';
import type { schema as rollbackSchema } from './executors/rollback/options';
import type { schema as statusSchema } from './executors/status/options';
import type { schema as switchSchema } from './executors/edge-switch/options';
import type { schema as unlockSchema } from './executors/unlock/options';

/**
 * What an operator command does once its options are parsed, shared by its
 * two front ends: the Nx executor (infra-deploy:status …) and the `veza` CLI
 * (tools/veza). Each takes the options its executor's declaration
 * (options.ts) produces, so both print the same text and JSON, and take the
 * same locks and audit lines, because they make the same engine call.
 */
export interface Run {
  workspace: Workspace;
  log: Logger;
  /** Where a report goes (stdout). */
  out: (text: string) => void;
}

type Options<S extends z.ZodType> = z.output<S>;

export async function runStatus(o: Options<typeof statusSchema>, r: Run): Promise<void> {
  const report = await status({ workspace: r.workspace, env: o.env, json: o.json, log: r.log });
  r.out(o.json ? JSON.stringify(report, null, 2) + '\n' : formatStatus(report).join('\n') + '\n');
}

export async function runHistory(o: Options<typeof historySchema>, r: Run): Promise<void> {
  const entries = await history({ workspace: r.workspace, env: o.env, json: o.json, log: r.log });
  r.out(o.json ? JSON.stringify(entries, null, 2) + '\n' : ['history (newest first):', ...formatHistory(entries)].join('\n') + '\n');
}

export async function runRollback(o: Options<typeof rollbackSchema>, r: Run): Promise<void> {
  await rollback({ workspace: r.workspace, env: o.env, mode: o.mode, sha: o.sha, dryRun: o.dryRun, json: o.json, log: r.log });
}

export async function runSwitch(o: Options<typeof switchSchema>, r: Run): Promise<void> {
  await switchColor({ workspace: r.workspace, env: o.env, color: o.color, force: o.force, sha: o.sha, dryRun: o.dryRun, log: r.log });
}

export async function runUnlock(o: Options<typeof unlockSchema>, r: Run): Promise<void> {
  await unlock({ workspace: r.workspace, env: o.env, json: o.json, log: r.log });
}

/** Same options as unlock: the environment, and JSON lines. */
export async function runLock(o: Options<typeof unlockSchema>, r: Run): Promise<void> {
  await lock({ workspace: r.workspace, env: o.env, json: o.json, log: r.log });
}

export async function runDiff(o: Options<typeof diffSchema>, r: Run): Promise<void> {
  const report = await releaseDiff({ workspace: r.workspace, env: o.env, sha: o.sha, json: o.json, log: r.log });
  r.out(o.json ? JSON.stringify(report, null, 2) + '\n' : [`${report.env}: release ${report.to}, ${report.against}`, ...describeDiff(report)].join('\n') + '\n');
}


export async function runPromote(o: Options<typeof promoteSchema>, r: Run): Promise<void> {
  await promote({ workspace: r.workspace, env: o.env, sha: o.sha, bake: o.bake, dryRun: o.dryRun, json: o.json, log: r.log });
}
