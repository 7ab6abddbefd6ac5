import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import type { z } from 'zod';
import { switchColor } from '@veza/engine/edge/switch';
import { parseOptions } from '../../option-schema';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function edgeSwitchExecutor(input: z.input<typeof schema>, context: ExecutorContext) {
  const options = parseOptions(schema, input, 'edge-switch');
  return runExecutor(context, async (log) => {
    await switchColor({ workspace: await loadWorkspace(context.root), env: options.env, color: options.color, force: options.force, sha: options.sha, dryRun: options.dryRun, log });
  });
}
