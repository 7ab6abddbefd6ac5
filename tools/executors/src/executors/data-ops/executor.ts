import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { operateData } from '@veza/engine/data/operate';
import type { BackupType } from '@veza/engine/data/ha/pgbackrest';
import type { z } from 'zod';
import { parseOptions } from '../../option-schema';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function dataOpsExecutor(input: z.input<typeof schema>, context: ExecutorContext) {
  const options = parseOptions(schema, input, 'data-ops');
  return runExecutor(context, async (log) => {
    const report = await operateData({ workspace: await loadWorkspace(context.root), env: options.env, action: options.action, type: options.type as BackupType | undefined, keep: options.keep, json: options.json, log });
    if (report && options.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  }, { json: options.json });
}
