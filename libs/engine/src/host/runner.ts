import * as cli from '../hosts/incus/cli';
import type { IncusClient } from '../hosts/incus/client';
import type { Instance } from '../hosts/incus/json';
import { VezaError } from '../log/errors';
import type { Command } from '../ports/process';
import { runnerLabel } from './settings';

/**
 * The deploy runner container (seed 3b33791660 phases 2 and 3, a881be9dad):
 * a Forgejo runner on the Incus host whose jobs drive the host's own daemon
 * — its unix socket mounted as a disk device, nesting on, the host's `incus`
 * client pushed in — registered with the labels the deploy workflow asks
 * for. Inspected, then planned as commands, so a second run plans nothing.
 *
 * The registration token travels on stdin only: `forgejo-runner register`
 * without --no-interactive reads the instance URL, the token, the runner's
 * name and its labels as four answers, so neither `incus exec` nor the
 * runner inside ever carries it in an argument list.
 */

export const INCUS_SOCKET = '/var/lib/incus/unix.socket';
export const SOCKET_DEVICE = 'incus-socket';
/** Where the host's client goes inside the container (seed: /usr/bin/incus pushed as /usr/local/bin/incus). */
export const HOST_CLIENT = '/usr/bin/incus';
export const CLIENT_INSIDE = '/usr/local/bin/incus';
/** The runner's working directory; its `.runner` file is the registration. */
export const RUNNER_HOME = '/var/lib/forgejo-runner';
/** Jobs run on the container itself (the `host` schema), where the incus client is. */
const LABEL_SCHEMA = 'host';

export interface RunnerSpec {
  instance: string;
  url: string;
  labels: string[];
  image: string;
  network: string;
  pool: string;
  profile: string;
}

/** What the inspection found. */
export interface RunnerState {
  instance?: Instance;
  clientInside: boolean;
  runnerBinary: boolean;
  registered: boolean;
}

/** `incus,self-hosted` → `incus:host,self-hosted:host`; a label with a space or a colon is refused. */
export function runnerLabels(labels: string[]): string {
  for (const l of labels) {
    if (!runnerLabel.safeParse(l).success) {
      throw new VezaError(`invalid runner label ${JSON.stringify(l)}`, 'a label is one word of lower-case letters, digits, ".", "_" and "-" (no spaces); list labels separately under runner.labels', 'INVALID_INPUT');
    }
  }
  if (labels.length === 0) throw new VezaError('the runner has no labels', 'list at least incus and self-hosted under runner.labels: the deploy job selects its runner by them', 'INVALID_INPUT');
  return labels.map((l) => `${l}:${LABEL_SCHEMA}`).join(',');
}

/** Exits 0 only when `.runner` exists and names every label; prints nothing, since the file also holds the runner's own secret. */
const REGISTERED = `f="$1/.runner"; shift; [ -s "$f" ] || exit 1; for l in "$@"; do grep -qF "\\"$l" "$f" || exit 1; done`;

export async function inspectRunner(client: IncusClient, spec: RunnerSpec): Promise<RunnerState> {
  const instance = await client.instance(spec.instance);
  if (!instance || instance.status !== 'Running') return { ...(instance ? { instance } : {}), clientInside: false, runnerBinary: false, registered: false };
  const ok = async (argv: string[]) => (await client.exec(spec.instance, argv, { check: false })).exitCode === 0;
  const labels = runnerLabels(spec.labels).split(',');
  return {
    instance,
    clientInside: await ok(['test', '-x', CLIENT_INSIDE]),
    runnerBinary: await ok(['sh', '-c', 'command -v forgejo-runner >/dev/null']),
    registered: await ok(['sh', '-c', REGISTERED, 'veza', RUNNER_HOME, ...labels]),
  };
}

export interface RunnerPlan {
  commands: Command[];
  /** Read-only checks run after the commands, every time. */
  checks: Command[];
  /** What the plan cannot do by itself. */
  notes: string[];
}

/**
 * The commands that bring the runner container in line. `token` is only
 * needed when a registration is planned; it goes into the command's stdin.
 */
export function planRunner(scope: cli.IncusScope, spec: RunnerSpec, state: RunnerState, token: () => string): RunnerPlan {
  const name = spec.instance;
  const commands: Command[] = [];
  const notes: string[] = [];
  const inst = state.instance;
  if (!inst) {
    commands.push(cli.launch(scope, { image: spec.image, name, profiles: [spec.profile], network: spec.network, pool: spec.pool, config: { 'security.nesting': 'true' } }));
  } else {
    if (inst.config['security.nesting'] !== 'true') {
      commands.push(cli.configSet(scope, name, 'security.nesting', 'true'));
      // Nesting is read when the container starts.
      if (inst.status === 'Running') commands.push(cli.stopInstance(scope, name));
    }
    if (inst.status !== 'Running' || inst.config['security.nesting'] !== 'true') commands.push(cli.startInstance(scope, name));
  }
  const socket = inst?.devices[SOCKET_DEVICE];
  // shift=true: in an unprivileged container the host's root-owned socket would show as nobody's, and the
  // client refuses a socket it may not write to; the idmapped mount shows it as the container root's.
  const want = [`source=${INCUS_SOCKET}`, `path=${INCUS_SOCKET}`, 'shift=true'];
  if (!socket) commands.push(cli.deviceAdd(scope, name, SOCKET_DEVICE, 'disk', want));
  else if (socket.source !== INCUS_SOCKET || socket.path !== INCUS_SOCKET || socket.shift !== 'true') commands.push(cli.deviceSet(scope, name, SOCKET_DEVICE, want));
  if (!state.clientInside) commands.push(cli.filePush(scope, name, HOST_CLIENT, CLIENT_INSIDE, { uid: 0, gid: 0, mode: '0755' }));
  if (!state.registered) {
    if (state.runnerBinary) {
      commands.push(cli.exec(scope, name, ['install', '-d', '-m', '0700', RUNNER_HOME], { description: `create ${RUNNER_HOME} in ${name}` }));
      commands.push(registerCommand(scope, spec, token()));
    } else {
      notes.push(`forgejo-runner is not installed in ${name}: install it there (see README "Deploy runner"), then run bootstrap again to register it`);
    }
  }
  // The smoke test of seed phase 2: the client inside reaches the host's daemon through the socket.
  const checks = [cli.exec(scope, name, [CLIENT_INSIDE, 'query', '/1.0'], { description: `check that incus inside ${name} reaches the host's daemon` })];
  return { commands, checks, notes };
}

export function registerCommand(scope: cli.IncusScope, spec: RunnerSpec, token: string): Command {
  if (!token || /[\s]/.test(token)) throw new VezaError('the runner registration token is empty or contains white space', 'set the token variable named by runner.tokenEnv to the token Forgejo shows under Site administration → Actions → Runners', 'INVALID_INPUT');
  const answers = [spec.url, token, spec.instance, runnerLabels(spec.labels)].join('\n') + '\n';
  return cli.exec(scope, spec.instance, ['forgejo-runner', 'register'], {
    cwd: RUNNER_HOME,
    input: answers,
    timeoutMs: 2 * 60_000,
    description: `register ${spec.instance} with ${spec.url} as ${spec.labels.join(',')}`,
  });
}
