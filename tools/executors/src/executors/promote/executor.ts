import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import type { z } from 'zod';
import { parseOptions } from '../../option-schema';
import { runPromote } from '../../operator';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function promoteExecutor(input: z.input<typeof schema>, context: ExecutorContext): Promise<{ success: boolean }> {
  const options = parseOptions(schema, input, 'promote');
  return runExecutor(context, async (log) => {
    await runPromote(options, { workspace: await loadWorkspace(context.root), log, out: (t) => process.stdout.write(t) });
  }, { json: options.json });
}
