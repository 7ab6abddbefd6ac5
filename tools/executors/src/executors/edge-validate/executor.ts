import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import type { z } from 'zod';
import { createProcessRunner } from '@veza/engine/ports/process';
import { validateEdgeFiles } from '@veza/engine/edge/targets';
import { parseOptions } from '../../option-schema';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function edgeValidateExecutor(input: z.input<typeof schema>, context: ExecutorContext) {
  const options = parseOptions(schema, input, 'edge-validate');
  return runExecutor(context, async (log) => {
    await validateEdgeFiles({ workspace: await loadWorkspace(context.root), edge: options.edge, env: options.env, runner: createProcessRunner(), log });
  });
}
