import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { sha256File } from '../artifact/manifest';
import type { Environment } from '../config/environment';
import type { Workspace } from '../config/workspace';
import * as cli from '../hosts/incus/cli';
import { IncusClient } from '../hosts/incus/client';
import { APP_PROFILE, incusSettings, planHost } from '../hosts/incus/host';
import { parseNames } from '../hosts/incus/json';
import { VezaError } from '../log/errors';
import type { Logger } from '../log/logger';
import { registerSecret } from '../log/redact';
import { createProcessRunner, formatArgv, type Command, type ProcessRunner } from '../ports/process';
import { applyBaseline, type BaselineResult } from './baseline';
import { judgeInotify, readInotifyFacts } from './inotify';
import { localMachine } from './machine';
import { blackboxCheck, publicBase, renderBlackboxConfig, renderBlackboxTargets } from './blackbox';
import { writeFileAtomic } from '../util/atomic';
import { SPAN_FILE, collectorBuild, collectorContainer, collectorPlacement, inspectCollector, planCollector, type CollectorPlacement } from './collector';
import { renderCollectorConfig } from './otelcol';
import { inspectRunner, planRunner, runnerLabels, type RunnerSpec, type RunnerState } from './runner';
import { loadHostSettings, type HostSettings } from './settings';

/**
 * `infra-host:bootstrap --env=E`: the Incus host the deploy assumes, made
 * idempotently — initialised from a preseed only when it never was, the
 * environment's project, network and `veza-app`/`veza-data` profiles on the
 * detected pool (hosts/incus/host.ts, shared with the deploy), the deploy
 * runner container, and with `--baseline` the common hardening of this
 * machine. Every input is checked before the first command; a dry-run
 * inspects and prints the commands; a second run plans none.
 */
export const ALERT_RULES = 'infra/observability/alert_rules.yml';

export interface HostBootstrapOptions {
  workspace: Workspace;
  env: string;
  log: Logger;
  dryRun?: boolean;
  /** Also apply the common baseline (sshd, fail2ban, unattended-upgrades) to this machine. */
  baseline?: boolean;
  runner?: ProcessRunner;
  /** Where the token variable is read (default: process.env). */
  environ?: NodeJS.ProcessEnv;
  /** This process's arguments, which must not carry the token (default: process.argv). */
  argv?: readonly string[];
  /** This machine's configuration root, read by the inotify check and written by the baseline (default /etc). */
  etc?: string;
  /** This machine's /proc, where the inotify limit and the user namespace are read (default /proc). */
  proc?: string;
}

export interface HostBootstrapResult {
  /** Each planned command as the operator would type it. */
  commands: string[];
  notes: string[];
  baseline?: BaselineResult;
  /** The rendered observability files. */
  files?: string[];
}

/** The runner's project and profile are the environment's: the deploy job drives that project. */
function runnerSpec(settings: HostSettings, s: ReturnType<typeof incusSettings>, pool: string): RunnerSpec {
  return { instance: settings.runner.instance, url: settings.runner.url, labels: settings.runner.labels, image: s.image, network: s.network, pool, profile: APP_PROFILE };
}

/** The token from its variable; refused when it also appears among the process's arguments. */
export function readRunnerToken(settings: HostSettings, environ: NodeJS.ProcessEnv, argv: readonly string[]): string | undefined {
  const name = settings.runner.tokenEnv;
  const token = environ[name];
  if (token === undefined || token === '') return undefined;
  registerSecret(token);
  if (argv.some((a) => a.includes(token))) {
    throw new VezaError('the runner registration token was passed as a command-line argument, where any user of this machine can read it (/proc/<pid>/cmdline)',
      `pass it only in the ${name} environment variable, and revoke this token in Forgejo: it has been exposed`, 'INVALID_INPUT');
  }
  return token;
}

/** Seed 65c20835c1: a host with no storage pool has never been initialised. */
export function preseed(network: string): string {
  return stringify({
    networks: [{ name: network, type: 'bridge', config: { 'ipv4.address': '10.99.0.1/24', 'ipv4.nat': 'true', 'ipv6.address': 'none' } }],
    storage_pools: [{ name: 'default', driver: 'dir' }],
    profiles: [{ name: 'default', devices: { root: { path: '/', pool: 'default', type: 'disk' }, eth0: { name: 'eth0', network, type: 'nic' } } }],
  });
}

export async function bootstrapHost(o: HostBootstrapOptions): Promise<HostBootstrapResult> {
  const log = o.log.child({ phase: 'host' });
  const env = o.workspace.env(o.env);
  if (env.driver !== 'incus') {
    throw new VezaError(`environment ${env.name} uses the ${env.driver} driver: there is no Incus host to set up`, 'run it for an Incus environment (e.g. --env=prod), or use infra-deploy:deploy for local ones', 'INVALID_INPUT');
  }
  // Everything the run will need is checked before the first command.
  const settings = await loadHostSettings(o.workspace.root, env.name);
  runnerLabels(settings.runner.labels);
  publicBase(env.publicUrl);
  const token = readRunnerToken(settings, o.environ ?? process.env, o.argv ?? process.argv);
  const needToken = (): string => {
    if (token === undefined) {
      throw new VezaError(`the runner needs registering but ${settings.runner.tokenEnv} is not set`,
        `export ${settings.runner.tokenEnv} with the registration token Forgejo shows (Site administration → Actions → Runners → Create new runner), then run again`, 'INVALID_INPUT');
    }
    return token;
  };

  const runner = o.runner ?? createProcessRunner();
  const s = incusSettings(env);
  const client = new IncusClient(runner, s.project);
  const result: HostBootstrapResult = { commands: [], notes: [] };
  const apply = async (commands: Command[]) => {
    for (const c of commands) {
      result.commands.push(formatArgv(c.argv));
      log.info(`${o.dryRun ? 'would run' : 'running'}: ${formatArgv(c.argv)}${c.description ? ` (${c.description})` : ''}`);
      if (!o.dryRun) await client.run(c);
    }
  };

  await client.run(cli.serverInfo());
  const inotify = judgeInotify(await readInotifyFacts(o.proc ?? '/proc', o.etc ?? '/etc'), o.etc ?? '/etc');
  if (inotify.kind === 'low') result.notes.push(inotify.note);
  else if (inotify.kind === 'unreadable') log.info(inotify.info);
  const pools = parseNames((await client.run(cli.listStoragePools({ project: 'default' }))).stdout, 'incus storage list');
  if (pools.length === 0) {
    await apply([cli.adminInitPreseed(preseed(s.network))]);
    if (o.dryRun) {
      result.notes.push('the host has never been initialised: the rest is planned once the preseed has run');
      return finish(result, log);
    }
  }

  const host = await planHost(client, s);
  log.info(`storage pool ${host.pool} (${host.poolSource})`);
  await apply(host.commands);

  const spec = runnerSpec(settings, s, host.pool);
  const projectPlanned = host.commands.some((c) => c.argv[1] === 'project' && c.argv[2] === 'create');
  const state: RunnerState = projectPlanned && o.dryRun ? { clientInside: false, runnerBinary: false, registered: false } : await inspectRunner(client, spec);
  const plan = planRunner(client.scope, spec, state, needToken);
  await apply(plan.commands);
  if (!o.dryRun) for (const c of plan.checks) await client.run(c);
  result.notes.push(...plan.notes);

  const placement = collectorPlacement(env, s);
  if (placement) {
    // The binary this checkout pins, built once per version; its checksum decides whether the container's is stale.
    const binary = (await runner.run(collectorBuild(o.workspace.root))).stdout.trim().split('\n').pop()!;
    const collector = projectPlanned && o.dryRun ? { facts: {} } : await inspectCollector(client, placement.container);
    const want = { placement, binary, binarySha256: (await sha256File(binary)).sha256, config: collectorConfig(env, placement)!, image: s.image, network: s.network, pool: host.pool };
    const collectorPlan = planCollector(client, want, collector);
    await apply(collectorPlan.commands);
    if (!o.dryRun) for (const c of collectorPlan.checks) await client.run(c);
  } else if (env.observability?.otlpEndpoint) {
    log.info(`observability.otlpEndpoint does not name ${collectorContainer(env)}.${s.dnsSuffix}: the collector is yours to run; its config is in dist/host/${env.name}/otelcol.yaml`);
  }
  result.files = await writeObservability(o.workspace.root, env, runner, placement);

  if (o.baseline) {
    result.baseline = await applyBaseline({ settings, machine: localMachine(runner), log, dryRun: o.dryRun, ...(o.etc ? { etc: o.etc } : {}) });
    for (const f of result.baseline.files) if (f.diff) log.info(f.diff);
    result.notes.push(...result.baseline.notes);
  }
  return finish(result, log);
}

function finish(result: HostBootstrapResult, log: Logger): HostBootstrapResult {
  for (const n of result.notes) log.warn(n);
  log.info(result.commands.length ? `${result.commands.length} command(s)` : 'the host is already set up: nothing to do');
  return result;
}

/** The collector's config for this environment, when it has an endpoint; a container placement binds every address of its own. */
export function collectorConfig(env: Pick<Environment, 'observability'>, placement?: CollectorPlacement): string | undefined {
  const otlpEndpoint = env.observability?.otlpEndpoint;
  return otlpEndpoint ? renderCollectorConfig({ otlpEndpoint, spanFile: SPAN_FILE, ...(placement ? { listen: placement.listen } : {}) }) : undefined;
}

/**
 * The blackbox exporter's config and Prometheus' probe targets and alert
 * rules for this environment, and with observability.otlpEndpoint the
 * collector's config, under dist/host/<env>/ for the operator to install
 * (README "Alerts", "Tracing"); the exporter's own check proves its config.
 */
export async function writeObservability(root: string, env: { name: string; publicUrl: string; observability?: Environment['observability'] }, runner: ProcessRunner, placement?: CollectorPlacement): Promise<string[]> {
  const dir = join(root, 'dist', 'host', env.name);
  const files: Record<string, string> = {
    'blackbox.yml': renderBlackboxConfig(env.publicUrl),
    'blackbox-targets.yml': renderBlackboxTargets(env.name, env.publicUrl),
    'alert_rules.yml': await readFile(join(root, ALERT_RULES), 'utf8'),
  };
  const collector = collectorConfig(env, placement);
  if (collector) files['otelcol.yaml'] = collector;
  // An endpoint taken out of the file takes its collector config with it, so dist/ never offers a stale one.
  else await rm(join(dir, 'otelcol.yaml'), { force: true });
  for (const [name, text] of Object.entries(files)) await writeFileAtomic(join(dir, name), text);
  await runner.run(blackboxCheck(join(dir, 'blackbox.yml')));
  return Object.keys(files).map((f) => join(dir, f));
}
