import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import type { z } from 'zod';
import { runUnlock } from '../../operator';
import { parseOptions } from '../../option-schema';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function unlockExecutor(input: z.input<typeof schema>, context: ExecutorContext): Promise<{ success: boolean }> {
  const options = parseOptions(schema, input, 'unlock');
  return runExecutor(context, async (log) => {
    await runUnlock(options, { workspace: await loadWorkspace(context.root), log, out: (t) => process.stdout.write(t) });
  }, { json: options.json });
}
