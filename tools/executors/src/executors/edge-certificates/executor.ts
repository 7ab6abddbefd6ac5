import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import type { z } from 'zod';
import { certificates } from '@veza/engine/edge/certificates';
import { parseOptions } from '../../option-schema';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function edgeCertificatesExecutor(input: z.input<typeof schema>, context: ExecutorContext) {
  const options = parseOptions(schema, input, 'edge-certificates');
  return runExecutor(context, async (log) => {
    await certificates({ workspace: await loadWorkspace(context.root), env: options.env, edge: options.edge, force: options.force, dryRun: options.dryRun, log });
  });
}
