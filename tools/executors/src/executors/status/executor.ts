import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import type { z } from 'zod';
import { formatStatus, status } from '@veza/engine/deploy/status';
import { parseOptions } from '../../option-schema';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function statusExecutor(input: z.input<typeof schema>, context: ExecutorContext): Promise<{ success: boolean }> {
  const options = parseOptions(schema, input, 'status');
  return runExecutor(context, async (log) => {
    const report = await status({ workspace: await loadWorkspace(context.root), env: options.env, json: options.json, log });
    process.stdout.write(options.json ? JSON.stringify(report, null, 2) + '\n' : formatStatus(report).join('\n') + '\n');
  }, { json: options.json });
}
