import type { ExecutorContext } from '@nx/devkit';
import { createLogger, type Logger } from '@veza/engine/log/logger';
import { describeError } from '@veza/engine/log/errors';

/**
 * The whole of an executor's error handling: run the engine call, print the
 * one-line message of anything it throws, and report success to Nx.
 */
export async function runExecutor(
  context: ExecutorContext,
  body: (log: Logger) => Promise<void>,
  opts: { json?: boolean; write?: (line: string) => void } = {},
): Promise<{ success: boolean }> {
  const log = createLogger({ format: opts.json ? 'json' : undefined, write: opts.write, base: { project: context.projectName } });
  try {
    await body(log);
    return { success: true };
  } catch (e) {
    log.error(describeError(e));
    return { success: false };
  }
}

export function projectRoot(context: ExecutorContext): string {
  const name = context.projectName;
  const p = name ? context.projectsConfigurations?.projects[name] : undefined;
  if (!p) throw new Error(`project ${name ?? '(none)'} is not in the workspace`);
  return p.root;
}
