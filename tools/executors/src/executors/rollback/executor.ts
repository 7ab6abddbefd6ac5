import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import type { z } from 'zod';
import { runRollback } from '../../operator';
import { parseOptions } from '../../option-schema';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function rollbackExecutor(input: z.input<typeof schema>, context: ExecutorContext): Promise<{ success: boolean }> {
  const options = parseOptions(schema, input, 'rollback');
  return runExecutor(context, async (log) => {
    await runRollback(options, { workspace: await loadWorkspace(context.root), log, out: (t) => process.stdout.write(t) });
  }, { json: options.json });
}
