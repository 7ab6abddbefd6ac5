import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { loadWorkspace } from '@veza/engine/config/workspace';
import { logsCommand } from '@veza/engine/deploy/logs';
import { describeError } from '@veza/engine/log/errors';
import { createLogger } from '@veza/engine/log/logger';
import { runDiff, runHistory, runLock, runPromote, runRollback, runStatus, runSwitch, runUnlock, type Run } from '../../executors/src/operator';
import { schema as diffSchema } from '../../executors/src/executors/diff/options';
import { schema as historySchema } from '../../executors/src/executors/history/options';
import { schema as lockSchema } from '../../executors/src/executors/lock/options';
import { schema as promoteSchema } from '../../executors/src/executors/promote/options';
import { schema as rollbackSchema } from '../../executors/src/executors/rollback/options';
import { schema as statusSchema } from '../../executors/src/executors/status/options';
import { schema as switchSchema } from '../../executors/src/executors/edge-switch/options';
import { schema as unlockSchema } from '../../executors/src/executors/unlock/options';
import { parseArgv, typeOf, UsageError, type ArgvSpec } from './argv';
import { schema as logsSchema } from './logs-options';

/**
 * `veza <command> [--options]`: the commands an operator runs under stress,
 * calling the engine directly — no Nx project graph, no task runner. Each
 * command parses its words with the declaration of the Nx executor that does
 * the same thing (tools/executors/src/executors/<name>/options.ts) and runs
 * the same body (tools/executors/src/operator.ts): same options, output,
 * locks and audit lines as `npx nx run infra-deploy:<target>`.
 *
 * Exit codes: 0 done, 1 the command failed (one line on stderr, or one JSON
 * line with --json), 2 bad usage.
 */
interface CommandDef {
  summary: string;
  /** The executor whose options it takes, or none for a terminal-only command. */
  target?: string;
  schema: z.ZodObject;
  argv?: ArgvSpec;
  run(options: never, r: Run): Promise<void>;
}

const COMMANDS: Record<string, CommandDef> = {
  status: { summary: 'active colour, release, public URL, per-component health of both colours, history, lock holder', target: 'infra-deploy:status', schema: statusSchema, run: runStatus },
  history: { summary: 'the deploy history, newest first (no probe)', target: 'infra-deploy:history', schema: historySchema, run: runHistory },
  rollback: {
    summary: 'fast: flip the edge back to the other colour; full: redeploy the previous good release (or --to=<sha>) from its manifest',
    target: 'infra-deploy:rollback', schema: rollbackSchema, argv: { aliases: { to: 'sha' } }, run: runRollback,
  },
  promote: { summary: 'put live the release deploy --no-switch left on the inactive colour (switch, verify, bake, record)', target: 'infra-deploy:promote', schema: promoteSchema, run: runPromote },
  switch: { summary: 'hitless switch of the edge to --color=blue|green', target: 'infra-edge:switch', schema: switchSchema, run: runSwitch },
  diff: { summary: 'what deploying --sha (default: the workspace build) would change against the live release', target: 'infra-deploy:diff', schema: diffSchema, run: runDiff },
  lock: { summary: 'hold the deploy lock until unlock: nothing changes the environment meanwhile', target: 'infra-deploy:lock', schema: lockSchema, run: runLock },
  unlock: { summary: 'remove the deploy lock, whoever holds it (audited)', target: 'infra-deploy:unlock', schema: unlockSchema, run: runUnlock },
  logs: { summary: "a slot's last 200 log lines (--follow: and what follows)", schema: logsSchema, argv: { positional: ['component'] }, run: runLogs },
};

export async function main(words: string[]): Promise<number> {
  const [name, ...rest] = words;
  if (!name || name === '--help' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) return usageError(`unknown command ${JSON.stringify(name)}`, 'veza --help lists the commands');
  if (rest.includes('--help')) {
    process.stdout.write(commandHelp(name, command));
    return 0;
  }
  let options: unknown;
  try {
    const parsed = command.schema.safeParse(parseArgv(rest, command.schema, command.argv));
    if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => `${i.path.length ? `--${String(i.path.join('.'))}` : 'options'}: ${i.message}`).join('; '));
    options = parsed.data;
  } catch (e) {
    if (e instanceof UsageError) return usageError(`veza ${name}: ${e.message}`, `veza ${name} --help lists its options`);
    throw e;
  }
  const json = Boolean((options as { json?: boolean }).json);
  const log = createLogger({ format: json ? 'json' : undefined });
  try {
    const root = workspaceRoot(process.cwd());
    await command.run(options as never, { workspace: await loadWorkspace(root), log, out: (t) => process.stdout.write(t) });
    return 0;
  } catch (e) {
    log.error(describeError(e));
    return 1;
  }
}

/** The checkout the command is run in: the nearest folder up from here with infra/environments. */
function workspaceRoot(from: string): string {
  for (let d = from; ; d = dirname(d)) {
    if (existsSync(join(d, 'infra', 'environments'))) return d;
    if (dirname(d) === d) throw new UsageError(`no Veza workspace here: no infra/environments in ${from} or any folder above it — run veza inside the repository`);
  }
}

/** Attaches the slot's log to this terminal (a `tail -f` runs until interrupted, so its output is streamed, not collected). */
async function runLogs(o: z.output<typeof logsSchema>, r: Run): Promise<void> {
  const argv = await logsCommand({ workspace: r.workspace, env: o.env, component: o.component, color: o.color, follow: o.follow, log: r.log });
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject).on('close', (c, signal) => resolve(signal === 'SIGINT' ? 0 : c ?? 1));
  });
  if (code !== 0) throw new Error(`${argv.join(' ')} exited ${code}`);
}

function usageError(message: string, hint: string): number {
  process.stderr.write(`veza: ${message} — ${hint}\n`);
  return 2;
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return [
    'veza <command> [--env=<name>] [--options]: operate an environment without Nx (same options, output, locks and audit as the nx targets)',
    '',
    ...Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`),
    '',
    'veza <command> --help lists its options.',
    '',
  ].join('\n');
}

function commandHelp(name: string, c: CommandDef): string {
  const shape = c.schema.shape as Record<string, z.ZodType>;
  const positional = c.argv?.positional ?? [];
  const aliases = Object.entries(c.argv?.aliases ?? {});
  return [
    `veza ${name}${positional.map((p) => ` <${p}>`).join('')}: ${c.summary}${c.target ? ` (as npx nx run ${c.target})` : ''}`,
    '',
    ...Object.entries(shape).filter(([k]) => !positional.includes(k)).map(([k, t]) => {
      const flag = `--${k.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)}${typeOf(c.schema, k) === 'boolean' ? '' : '=<value>'}`;
      const alias = aliases.filter(([, to]) => to === k).map(([a]) => ` (or --${a})`).join('');
      return `  ${flag}${alias}  ${t.description ?? ''}`;
    }),
    '',
  ].join('\n');
}
