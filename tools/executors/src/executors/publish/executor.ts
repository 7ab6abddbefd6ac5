import type { ExecutorContext } from '@nx/devkit';
import { publishArtifact } from '@veza/engine/registry/publish-artifact';
import { runExecutor } from '../../report';

export interface PublishExecutorOptions {
  env?: string;
  dryRun?: boolean;
}

export default async function publishExecutor(options: PublishExecutorOptions, context: ExecutorContext) {
  return runExecutor(context, async (log) => {
    await publishArtifact({ workspaceRoot: context.root, project: context.projectName ?? '', envName: options.env ?? 'local', dryRun: options.dryRun, log });
  });
}
