import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import type { z } from 'zod';
import { runStatus } from '../../operator';
import { parseOptions } from '../../option-schema';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function statusExecutor(input: z.input<typeof schema>, context: ExecutorContext): Promise<{ success: boolean }> {
  const options = parseOptions(schema, input, 'status');
  return runExecutor(context, async (log) => {
    await runStatus(options, { workspace: await loadWorkspace(context.root), log, out: (t) => process.stdout.write(t) });
  }, { json: options.json });
}
