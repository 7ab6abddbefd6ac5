import type { ExecutorContext } from '@nx/devkit';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { bootstrapHost } from '@veza/engine/host/bootstrap';
import { VezaError } from '@veza/engine/log/errors';
import type { z } from 'zod';
import { parseOptions } from '../../option-schema';
import { runExecutor } from '../../report';
import { schema } from './options';

export default async function hostBootstrapExecutor(input: z.input<typeof schema>, context: ExecutorContext) {
  return runExecutor(context, async (log) => {
    // A token on the command line is readable by every user of the machine (and Nx echoes the command): refused, with why.
    const tokenOption = Object.keys(input ?? {}).find((k) => /token/i.test(k));
    if (tokenOption) {
      throw new VezaError(`--${tokenOption} is refused: the runner registration token is never an argument`,
        'set it in the environment variable named by runner.tokenEnv in infra/host/<env>.yaml (default FORGEJO_RUNNER_TOKEN), and revoke the token you typed: it has been exposed', 'INVALID_INPUT');
    }
    const options = parseOptions(schema, input, 'host-bootstrap');
    await bootstrapHost({ workspace: await loadWorkspace(context.root), env: options.env, dryRun: options.dryRun, baseline: options.baseline, log });
  });
}
