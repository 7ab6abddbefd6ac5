import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import type { z } from 'zod';
import { parseOptions } from '../../option-schema';
import { runLock } from '../../operator';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function lockExecutor(input: z.input<typeof schema>, context: ExecutorContext): Promise<{ success: boolean }> {
  const options = parseOptions(schema, input, 'lock');
  return runExecutor(context, async (log) => {
    await runLock(options, { workspace: await loadWorkspace(context.root), log, out: (t) => process.stdout.write(t) });
  }, { json: options.json });
}
