import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import type { z } from 'zod';
import { provisionData } from '@veza/engine/data/provision';
import { parseOptions } from '../../option-schema';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function dataProvisionExecutor(input: z.input<typeof schema>, context: ExecutorContext) {
  const options = parseOptions(schema, input, 'data-provision');
  return runExecutor(context, async (log) => {
    await provisionData({ workspace: await loadWorkspace(context.root), env: options.env, sha: options.sha, dryRun: options.dryRun, log });
  }, { json: options.json });
}
