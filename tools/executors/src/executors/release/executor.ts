import type { ExecutorContext } from '@nx/devkit';
import { execa } from 'execa';
import type { z } from 'zod';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { publishCiRelease } from '@veza/engine/deploy/ci-release';
import { VezaError } from '@veza/engine/log/errors';
import { parseOptions } from '../../option-schema';
import { runExecutor } from '../../report';
import { artifactInputPaths } from './inputs';
import { schema } from './options';

export default async function releaseExecutor(input: z.input<typeof schema>, context: ExecutorContext): Promise<{ success: boolean }> {
  const options = parseOptions(schema, input, 'release');
  const { env } = options;
  return runExecutor(context, async (log) => {
    const graph = context.projectGraph;
    const inputPaths = Object.fromEntries(Object.keys(graph.nodes).map((p) => [p, artifactInputPaths(graph, context.nxJsonConfiguration ?? {}, p)]));
    await publishCiRelease({
      workspace: await loadWorkspace(context.root), env, sha: options.sha, inputPaths, log,
      build: async (components, secrets) => {
        for (const step of buildCommands(components, env, secrets)) {
          const res = await execa(step.argv[0]!, step.argv.slice(1), { cwd: context.root, env: step.env, extendEnv: false, stdio: 'inherit', reject: false });
          if (res.exitCode !== 0) {
            throw new VezaError(`${step.argv.slice(1).join(' ')} failed (exit ${res.exitCode ?? 'none'}); no release was published`,
              'fix the failure shown above (the component\'s test, build or publish), then run the release again', 'COMMAND_FAILED');
          }
        }
      },
    });
  });
}

/**
 * Nx builds what the release lacks: tests, build and package first with no
 * secret in the environment (component code and its build scripts run
 * there), then publish, which needs the registry token and runs no component
 * code.
 */
export function buildCommands(components: string[], env: string, secrets: string[], processEnv: NodeJS.ProcessEnv = process.env): { argv: string[]; env: Record<string, string> }[] {
  const projects = `--projects=${components.join(',')}`;
  const all = Object.fromEntries(Object.entries(processEnv).filter((e): e is [string, string] => e[1] !== undefined));
  const withoutSecrets = Object.fromEntries(Object.entries(all).filter(([k]) => !secrets.includes(k)));
  return [
    { argv: ['npx', 'nx', 'run-many', '-t', 'package', projects], env: withoutSecrets },
    { argv: ['npx', 'nx', 'run-many', '-t', 'publish', projects, `--env=${env}`], env: all },
  ];
}
