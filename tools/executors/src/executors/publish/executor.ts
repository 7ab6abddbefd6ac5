import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { publishArtifact } from '@veza/engine/registry/publish-artifact';
import { runExecutor } from '../../report';

export interface PublishExecutorOptions {
  env?: string;
  dryRun?: boolean;
}

export default async function publishExecutor(options: PublishExecutorOptions, context: ExecutorContext) {
  return publishTask(options, context);
}

/** One component's publish; `write` takes its log lines when several publishes share a process (batch.ts). */
export function publishTask(options: PublishExecutorOptions, context: ExecutorContext, write?: (line: string) => void) {
  return runExecutor(
    context,
    async (log) => {
      await publishArtifact({ workspace: await loadWorkspace(context.root), project: context.projectName ?? '', env: options.env, dryRun: options.dryRun, log });
    },
    { write },
  );
}
