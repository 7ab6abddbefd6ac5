import { commandFailed, type Command, type ProcessRunner, type RunResult } from '../../../ports/process';

/**
 * For the default test tier, where no Incus daemon runs: a ProcessRunner
 * that records every command and answers the way the `incus` client does —
 * from a handler the test writes with the real client's outputs in mind
 * (JSON lists, exit codes, stderr). Not used at run time.
 */
export type Answer = Partial<RunResult> | undefined;

export interface ScriptedRunner extends ProcessRunner {
  commands: Command[];
  /** Each command as one line: argv joined by spaces. */
  lines(): string[];
}

export function scriptedRunner(answer: (argv: string[], cmd: Command) => Answer): ScriptedRunner {
  const commands: Command[] = [];
  return {
    dryRun: false,
    commands,
    lines: () => commands.map((c) => c.argv.join(' ')),
    async run(cmd, opts = {}) {
      commands.push(cmd);
      const a = answer(cmd.argv, cmd) ?? {};
      const res: RunResult = { exitCode: a.exitCode ?? 0, stdout: a.stdout ?? '', stderr: a.stderr ?? '' };
      if ((opts.check ?? true) && res.exitCode !== 0) throw commandFailed(cmd, res);
      return res;
    },
  };
}

/** `incus list --format json` for instances given as name → partial state. */
export function instancesJson(list: { name: string; status?: string; config?: Record<string, string>; devices?: Record<string, Record<string, string>>; ipv4?: string }[]): string {
  return JSON.stringify(list.map((i) => ({
    name: i.name,
    status: i.status ?? 'Running',
    config: i.config ?? {},
    devices: i.devices ?? {},
    expanded_devices: i.devices ?? {},
    state: i.ipv4 === undefined ? { network: {} } : { network: { eth0: { addresses: [{ family: 'inet', address: i.ipv4, netmask: '24', scope: 'global' }] }, lo: { addresses: [{ family: 'inet', address: '127.0.0.1', scope: 'local' }] } } },
  })));
}

/** The subcommand an argv runs, e.g. "list", "exec", "profile device add". */
export function sub(argv: string[]): string {
  const words: string[] = [];
  for (const a of argv.slice(1)) {
    if (a.startsWith('-')) break;
    words.push(a);
  }
  return words.join(' ');
}
