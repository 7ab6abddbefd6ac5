import { basename } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import type { z } from 'zod';
import { buildComponent } from '@veza/engine/build/build-component';
import { VezaError } from '@veza/engine/log/errors';
import { projectRoot, runExecutor } from '../../report';
import { schema } from './options';

export default async function buildExecutor(_options: z.input<typeof schema>, context: ExecutorContext): Promise<{ success: boolean }> {
  return runExecutor(context, async (log) => {
    const root = projectRoot(context);
    // Nx caches dist/build/{projectName} and the component (named after its folder) is built to dist/build/<component>.
    if (basename(root) !== context.projectName) {
      throw new VezaError(`Nx project "${context.projectName}" lives in ${root}, whose component is "${basename(root)}"`,
        'give the project in project.json the same name as its folder', 'BAD_COMPONENT');
    }
    const { record: r } = await buildComponent({ workspaceRoot: context.root, projectRoot: root, log });
    log.info(`built ${r.component} ${r.version} (${r.preset}) into dist/build/${r.component}/root`);
  });
}
