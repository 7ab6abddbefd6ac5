import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import type { z } from 'zod';
import { parseColors, renderEdgeFiles } from '@veza/engine/edge/targets';
import { parseOptions } from '../../option-schema';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function edgeRenderExecutor(input: z.input<typeof schema>, context: ExecutorContext) {
  const options = parseOptions(schema, input, 'edge-render');
  return runExecutor(context, async (log) => {
    await renderEdgeFiles({ workspace: await loadWorkspace(context.root), colors: parseColors(options.colors), log });
  });
}
