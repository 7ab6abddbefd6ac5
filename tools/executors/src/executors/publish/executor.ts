import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import type { z } from 'zod';
import { publishArtifact } from '@veza/engine/registry/publish-artifact';
import { parseOptions } from '../../option-schema';
import { runExecutor } from '../../report';
import { schema } from './options';

export type PublishExecutorOptions = z.input<typeof schema>;

export default async function publishExecutor(input: PublishExecutorOptions, context: ExecutorContext) {
  return publishTask(input, context);
}

/** One component's publish; `write` takes its log lines when several publishes share a process (batch.ts). */
export function publishTask(input: PublishExecutorOptions, context: ExecutorContext, write?: (line: string) => void) {
  return runExecutor(
    context,
    async (log) => {
      // Parsed inside the task: in a batch, bad options fail this task alone instead of the whole process.
      const options = parseOptions(schema, input, 'publish');
      await publishArtifact({ workspace: await loadWorkspace(context.root), project: context.projectName ?? '', env: options.env, dryRun: options.dryRun, log });
    },
    { write },
  );
}
