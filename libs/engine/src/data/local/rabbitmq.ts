import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { Environment } from '../../config/environment';
import { localAddress } from '../../hosts/naming';
import { VezaError } from '../../log/errors';
import type { Command, ProcessRunner } from '../../ports/process';
import { shellScript } from '../../util/shell-script';
import type { PlanStep } from '../plan';
import { livePid, readText } from './pids';

/**
 * A local environment's RabbitMQ: Debian's broker run as this user (not
 * through /usr/sbin's wrappers, which switch to the rabbitmq user and drop
 * the environment), one node per environment, `veza-<env>@localhost`, its
 * AMQP listener on the data address, Erlang distribution and epmd on
 * 127.0.0.1, everything (cookie, mnesia, logs) under
 * `.veza/envs/<env>/data/rabbitmq`. The vhost, user and permissions are
 * ensured with the same scripts as on Incus, each only when missing.
 */
export type RabbitSettings = NonNullable<Environment['data']['rabbitmq']>;

export interface LocalRabbit {
  env: Environment;
  settings: RabbitSettings;
  host: string;
  dir: string;
  confFile: string;
  pidFile: string;
  passwordFile: string;
  /** What every rabbitmq-server and rabbitmqctl call runs with. */
  vars: Record<string, string>;
}

const BIN = '/usr/lib/rabbitmq/bin';
const INSPECT = shellScript('data/incus/scripts/rabbitmq-inspect.sh');
const VHOST = shellScript('data/incus/scripts/rabbitmq-vhost.sh');
const USER = shellScript('data/incus/scripts/rabbitmq-user.sh');
const PERMS = shellScript('data/incus/scripts/rabbitmq-perms.sh');
const DROP_GUEST = shellScript('data/local/scripts/rabbitmq-drop-guest.sh');
const EPMD_RELEASE = shellScript('data/local/scripts/epmd-release.sh');

export function localRabbit(env: Environment, dataRoot: string): LocalRabbit | undefined {
  const settings = env.data.rabbitmq;
  if (!settings) return undefined;
  try {
    accessSync(join(BIN, 'rabbitmq-server'), constants.X_OK);
  } catch {
    throw new VezaError(`rabbitmq-server is not installed (data.rabbitmq of ${env.name} needs it)`, 'install rabbitmq-server (bash tools/scripts/setup.sh does)', 'MISSING_TOOL');
  }
  const host = localAddress(env, 'data');
  const dir = join(dataRoot, 'rabbitmq');
  const pidFile = join(dir, 'rabbit.pid');
  return {
    env,
    settings,
    host,
    dir,
    confFile: join(dir, 'rabbitmq.conf'),
    pidFile,
    passwordFile: join(dataRoot, 'secrets', 'rabbitmq-password'),
    vars: {
      PATH: `${BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      // The Erlang cookie lives in $HOME: the node's own folder, 0700.
      HOME: dir,
      RABBITMQ_NODENAME: `veza-${env.name}@localhost`,
      RABBITMQ_CONF_ENV_FILE: '/dev/null',
      RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
      RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(dir, 'log'),
      RABBITMQ_PID_FILE: pidFile,
      RABBITMQ_DIST_PORT: String(settings.distPort),
      // rabbitmqctl reaches `…@localhost` on 127.0.0.1: distribution stays on loopback, never 0.0.0.0.
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
      ERL_EPMD_PORT: String(settings.epmdPort),
      ERL_EPMD_ADDRESS: '127.0.0.1',
    },
  };
}

export function renderRabbitConf(r: LocalRabbit): string {
  return `# written by veza\nlisteners.tcp.default = ${r.host}:${r.settings.port}\n`;
}

export interface RabbitState {
  pid?: number;
  conf?: string;
  /** RABBITMQ_INSPECT's answers, when the node runs. */
  facts: Record<string, string>;
}

function ctl(r: LocalRabbit, script: string, args: string[], description: string, input?: string): Command {
  return { argv: ['sh', '-c', script, 'rabbitmq', ...args], env: r.vars, input: input ?? '', description, timeoutMs: 3 * 60_000 };
}

/** Reads only: the pid, the config and, from a running node, the vhost, user, password and permission facts. */
export async function inspectRabbit(r: LocalRabbit, runner: ProcessRunner, password: string): Promise<RabbitState> {
  const pid = livePid(r.pidFile, 'beam');
  const conf = readText(r.confFile);
  if (!pid) return { conf, facts: {} };
  const res = await runner.run(ctl(r, INSPECT, [r.settings.user, r.settings.vhost], `inspect rabbitmq of ${r.env.name}`, `${password}\n`), { check: false });
  const facts = Object.fromEntries(res.stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  return { pid, conf, facts };
}

/**
 * A stopped broker gets only the steps that start it, and `again`: its
 * vhost, user and permissions live in its own database, so they are read
 * (and ensured) once it runs, never guessed.
 */
export function planRabbit(r: LocalRabbit, state: RabbitState, password: string): { steps: PlanStep[]; notes: string[]; again?: boolean } {
  const name = `rabbitmq of ${r.env.name}`;
  const { vhost, user } = r.settings;
  const steps: PlanStep[] = [];
  const notes: string[] = [];
  const conf = renderRabbitConf(r);
  if (state.pid) {
    notes.push(`${name} runs (pid ${state.pid})`);
    if (state.conf !== conf) notes.push(`${name} runs with an older rabbitmq.conf; stop the environment and provision again to apply it`);
  } else {
    for (const d of [r.dir, join(r.dir, 'mnesia'), join(r.dir, 'log')]) steps.push({ kind: 'mkdir', title: `${name}: ${d}`, path: d, mode: 0o700 });
    steps.push({ kind: 'write', title: `${name}: rabbitmq.conf (listens on ${r.host}:${r.settings.port})`, path: r.confFile, content: conf, mode: 0o600 });
    steps.push({ kind: 'write', title: `${name}: no plugins`, path: r.vars.RABBITMQ_ENABLED_PLUGINS_FILE!, content: '[].\n', mode: 0o600 });
    steps.push({ kind: 'run', title: `${name}: start the broker`, command: { argv: [join(BIN, 'rabbitmq-server'), '-detached'], env: r.vars, description: `start ${name}`, timeoutMs: 60_000 } });
    steps.push({ kind: 'run', title: `${name}: wait until it runs`, command: { argv: [join(BIN, 'rabbitmqctl'), 'wait', '--timeout', '120', r.pidFile], env: r.vars, input: '', description: `wait for ${name}`, timeoutMs: 3 * 60_000 }, failureLog: join(r.dir, 'log', `${r.vars.RABBITMQ_NODENAME}.log`) });
    return { steps, notes: [`${name}: vhost ${vhost}, user ${user} and its permissions are checked once the broker runs`], again: true };
  }
  const f = state.facts;
  if (f.vhost !== '1') steps.push({ kind: 'run', title: `${name}: add vhost ${vhost}`, command: ctl(r, VHOST, [vhost], `add vhost ${vhost}`) });
  if (f.user !== '1' || f.password !== '1') steps.push({ kind: 'run', title: `${name}: ensure user ${user} with its password`, command: ctl(r, USER, [user], `ensure user ${user}`, `${password}\n`) });
  if (f.perms !== '1') steps.push({ kind: 'run', title: `${name}: grant ${user} configure/write/read .* on ${vhost}`, command: ctl(r, PERMS, [user, vhost], `grant ${user} on ${vhost}`) });
  if (f.guest !== '0') steps.push({ kind: 'run', title: `${name}: remove the default guest user`, command: ctl(r, DROP_GUEST, [], 'remove guest') });
  return { steps, notes };
}

/** Stops the node (rabbitmqctl stop waits for it), then its epmd if no other node uses it. */
export function planRabbitStop(r: LocalRabbit, state: RabbitState): PlanStep[] {
  if (!state.pid) return [];
  return [
    { kind: 'run', title: `stop rabbitmq of ${r.env.name} (pid ${state.pid})`, command: { argv: [join(BIN, 'rabbitmqctl'), 'stop', r.pidFile], env: r.vars, input: '', description: `stop rabbitmq of ${r.env.name}`, timeoutMs: 2 * 60_000 } },
    { kind: 'run', title: `release epmd on 127.0.0.1:${r.settings.epmdPort} when no node uses it`, command: { argv: ['sh', '-c', EPMD_RELEASE, 'epmd-release'], env: r.vars, description: 'release epmd', timeoutMs: 15_000 } },
  ];
}

/** How slots reach the broker: AMQP_URL with the app user, on the environment's vhost. */
export function rabbitAppEnv(r: LocalRabbit, password: string): Record<string, string> {
  return { AMQP_URL: `amqp://${encodeURIComponent(r.settings.user)}:${encodeURIComponent(password)}@${r.host}:${r.settings.port}/${encodeURIComponent(r.settings.vhost)}` };
}
