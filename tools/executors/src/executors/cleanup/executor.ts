import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import type { z } from 'zod';
import { cleanup } from '@veza/engine/deploy/cleanup';
import { parseOptions } from '../../option-schema';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function cleanupExecutor(input: z.input<typeof schema>, context: ExecutorContext): Promise<{ success: boolean }> {
  const options = parseOptions(schema, input, 'cleanup');
  return runExecutor(context, async (log) => {
    await cleanup({ workspace: await loadWorkspace(context.root), env: options.env, color: options.color, dryRun: options.dryRun, json: options.json, log });
  }, { json: options.json });
}
