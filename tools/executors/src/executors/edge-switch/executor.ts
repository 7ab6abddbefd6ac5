import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import type { z } from 'zod';
import { runSwitch } from '../../operator';
import { parseOptions } from '../../option-schema';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function edgeSwitchExecutor(input: z.input<typeof schema>, context: ExecutorContext) {
  const options = parseOptions(schema, input, 'edge-switch');
  return runExecutor(context, async (log) => {
    await runSwitch(options, { workspace: await loadWorkspace(context.root), log, out: (t) => process.stdout.write(t) });
  });
}
