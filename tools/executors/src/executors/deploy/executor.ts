import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import type { z } from 'zod';
import { deployCommand } from '@veza/engine/deploy/auto-promote';
import { parseOptions } from '../../option-schema';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function deployExecutor(input: z.input<typeof schema>, context: ExecutorContext): Promise<{ success: boolean }> {
  const options = parseOptions(schema, input, 'deploy');
  return runExecutor(context, async (log) => {
    await deployCommand({
      workspace: await loadWorkspace(context.root), env: options.env, sha: options.sha, dryRun: options.dryRun, json: options.json, bake: options.bake, switch: options.switch, autoPromote: options.autoPromote,
      publishedOnly: !packagesInRun(context), log,
    });
  }, { json: options.json });
}

/** `--excludeTaskDependencies` leaves the package tasks out of the run: then dist/artifacts is not this commit's build. */
export function packagesInRun(context: Pick<ExecutorContext, 'taskGraph'>): boolean {
  return Object.values(context.taskGraph?.tasks ?? {}).some((t) => t.target.target === 'package');
}
