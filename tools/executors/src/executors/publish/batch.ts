import type { ExecutorContext, TaskGraph } from '@nx/devkit';
import { publishTask, type PublishExecutorOptions } from './executor';

/** Nx's BatchExecutorTaskResult, which @nx/devkit does not export. */
export interface PublishTaskOutcome {
  task: string;
  result: { success: boolean; terminalOutput: string; startTime: number; endTime: number };
}

/**
 * Every publish task Nx has ready at once runs in this one process
 * (executors.json: batchImplementation + preferBatch), so a deploy pays for
 * starting Node, the TypeScript transpiler and the engine once rather than
 * once per component. Tasks stay independent — concurrent, as separate
 * processes were, each with its own result and its own log lines as its
 * terminal output — and nothing is cached: a wiped registry is refilled.
 * Results are yielded as each task ends: Nx prints a batched task's output
 * only when it is streamed this way.
 */
export default async function* publishBatch(
  taskGraph: TaskGraph,
  inputs: Record<string, PublishExecutorOptions>,
  _overrides: PublishExecutorOptions,
  context: ExecutorContext,
): AsyncGenerator<PublishTaskOutcome> {
  const running = new Map(Object.entries(inputs).map(([id, options]) => [id, publishOne(id, options, taskGraph, context)]));
  while (running.size > 0) {
    const done = await Promise.race(running.values());
    running.delete(done.task);
    yield done;
  }
}

async function publishOne(id: string, options: PublishExecutorOptions, taskGraph: TaskGraph, context: ExecutorContext): Promise<PublishTaskOutcome> {
  const { project, target, configuration } = taskGraph.tasks[id]!.target;
  const lines: string[] = [];
  const startTime = Date.now();
  const taskContext = { ...context, projectName: project, targetName: target, configurationName: configuration };
  const { success } = await publishTask(options, taskContext, (line) => lines.push(line));
  return { task: id, result: { success, terminalOutput: lines.join('\n'), startTime, endTime: Date.now() } };
}
