import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import type { z } from 'zod';
import { rollback } from '@veza/engine/deploy/rollback';
import { parseOptions } from '../../option-schema';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function rollbackExecutor(input: z.input<typeof schema>, context: ExecutorContext): Promise<{ success: boolean }> {
  const options = parseOptions(schema, input, 'rollback');
  return runExecutor(context, async (log) => {
    await rollback({ workspace: await loadWorkspace(context.root), env: options.env, mode: options.mode, sha: options.sha, dryRun: options.dryRun, json: options.json, log });
  }, { json: options.json });
}
