import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import type { z } from 'zod';
import { bootstrapEdge } from '@veza/engine/edge/bootstrap';
import { parseOptions } from '../../option-schema';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function edgeBootstrapExecutor(input: z.input<typeof schema>, context: ExecutorContext) {
  const options = parseOptions(schema, input, 'edge-bootstrap');
  return runExecutor(context, async (log) => {
    await bootstrapEdge({ workspace: await loadWorkspace(context.root), env: options.env, edge: options.edge, dryRun: options.dryRun, log });
  });
}
