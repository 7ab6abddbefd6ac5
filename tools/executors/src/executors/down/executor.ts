import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import type { z } from 'zod';
import { down } from '@veza/engine/deploy/down';
import { parseOptions } from '../../option-schema';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function downExecutor(input: z.input<typeof schema>, context: ExecutorContext): Promise<{ success: boolean }> {
  const options = parseOptions(schema, input, 'down');
  return runExecutor(context, async (log) => {
    await down({ workspace: await loadWorkspace(context.root), env: options.env, dryRun: options.dryRun, json: options.json, log });
  }, { json: options.json });
}
