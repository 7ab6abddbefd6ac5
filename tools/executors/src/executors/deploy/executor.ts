import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import type { z } from 'zod';
import { deploy } from '@veza/engine/deploy/deploy';
import { parseOptions } from '../../option-schema';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function deployExecutor(input: z.input<typeof schema>, context: ExecutorContext): Promise<{ success: boolean }> {
  const options = parseOptions(schema, input, 'deploy');
  return runExecutor(context, async (log) => {
    await deploy({ workspace: await loadWorkspace(context.root), env: options.env, sha: options.sha, dryRun: options.dryRun, json: options.json, bake: options.bake, log });
  }, { json: options.json });
}
