import type { ExecutorContext } from '@nx/devkit';
import { packageComponent } from '@veza/engine/artifact/package-component';
import { validate } from '@veza/engine/config/names';
import { runExecutor } from '../../report';

/** No options: the build record says what to package, and the output path is fixed for the Nx cache. */
export type PackageExecutorOptions = Record<string, never>;

export default async function packageExecutor(_options: PackageExecutorOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  return runExecutor(context, async (log) => {
    const project = validate.component(context.projectName);
    const m = await packageComponent({ workspaceRoot: context.root, project, warn: (w) => log.warn(w) });
    log.info(`packaged dist/artifacts/${project}/${m.file}: ${m.fileCount} files, ${m.size} bytes, sha256 ${m.sha256}`);
  });
}
