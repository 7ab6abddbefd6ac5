import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { applyEnvironmentBaseline } from '@veza/engine/host/environment-baseline';
import type { z } from 'zod';
import { parseOptions } from '../../option-schema';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function hostBaselineExecutor(input: z.input<typeof schema>, context: ExecutorContext) {
  return runExecutor(context, async (log) => {
    const options = parseOptions(schema, input, 'host-baseline');
    await applyEnvironmentBaseline({ workspace: await loadWorkspace(context.root), env: options.env, dryRun: options.dryRun, host: options.host, log });
  });
}
