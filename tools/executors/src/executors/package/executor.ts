import type { ExecutorContext } from '@nx/devkit';
import type { z } from 'zod';
import { packageComponent } from '@veza/engine/artifact/package-component';
import { validate } from '@veza/engine/config/names';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function packageExecutor(_options: z.input<typeof schema>, context: ExecutorContext): Promise<{ success: boolean }> {
  return runExecutor(context, async (log) => {
    const project = validate.component(context.projectName);
    const m = await packageComponent({ workspaceRoot: context.root, project, warn: (w) => log.warn(w) });
    log.info(`packaged dist/artifacts/${project}/${m.file}: ${m.fileCount} files, ${m.size} bytes, sha256 ${m.sha256}`);
  });
}
