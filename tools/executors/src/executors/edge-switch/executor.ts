import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { switchColor } from '@veza/engine/edge/switch';
import { runExecutor } from '../../report';

export interface EdgeSwitchOptions {
  env: string;
  color: string;
  force?: boolean;
  sha?: string;
  dryRun?: boolean;
}

export default async function edgeSwitchExecutor(options: EdgeSwitchOptions, context: ExecutorContext) {
  return runExecutor(context, async (log) => {
    await switchColor({ workspace: await loadWorkspace(context.root), env: options.env, color: options.color, force: options.force, sha: options.sha, dryRun: options.dryRun, log });
  });
}
