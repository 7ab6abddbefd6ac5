import { validate, type Color } from '../config/names';
import type { Workspace } from '../config/workspace';
import { currentActor } from '../state/actor';
import { writeActiveColor } from '../state/history';
import { VezaError, describeError } from '../log/errors';
import type { Logger } from '../log/logger';
import { applyRuntime, onlyServerStatesDiffer, runtimeCommands, readServerStates, snapshotTargets, tenantTargets, verifyTargets, type ServerTarget } from './apply';
import { proveConfig } from './proof';
import type { ServerRuntimeState } from './runtime-api';
import { unifiedDiff } from './diff';
import type { EdgeHost } from './edge-host';
import { withEdgeLock } from './edge-lock';
import { describeProbe, probeColor } from './health';
import { readLiveState, renderLive } from './live';
import { colorServerNames, loadEdgeInputs, type EdgeModel } from './model';
import { openEdgeHost } from './open-host';
import { isIpv4, type EdgeRenderer } from './render';
import { describeSwitchStep, type SwitchStep } from './plan';
import { recordSwitch } from './switch-log';

/**
 * Points one environment's pools at another colour (seed 003's
 * veza_haproxy_switch, made hitless): check inputs → read the prior colours →
 * render → validate (haproxy -c, or a shape it already accepted: proof.ts) →
 * probe the target colour → back up → atomic rename → apply → verify; any
 * failure after the rename restores the backup and re-applies the servers'
 * previous states, so the edge ends serving exactly what it served before.
 * Then the new colour and a history line are persisted. Everything runs under
 * the edge lock: environments sharing an edge share its config file.
 */
export interface SwitchOptions {
  workspace: Workspace;
  env: string;
  color: string;
  /** Switch even if the target colour fails its health probes. */
  force?: boolean;
  /** Release the colour holds, for the history line. */
  sha?: string;
  /** Print the plan (diff, commands) and change nothing. */
  dryRun?: boolean;
  log: Logger;
  /** The edge's host; by default the one its edge file names. */
  host?: EdgeHost;
  /** Tests inject a broken template here. */
  renderer?: EdgeRenderer;
  /** Overrides the edge file's `apply` (the benchmark measures both). */
  strategy?: 'runtime' | 'reload';
  /** The colour's slots were just (re-)created: same names, perhaps new addresses. */
  renewed?: boolean;
  actor?: string;
  now?: () => Date;
}

export interface SwitchResult {
  env: string;
  edge: string;
  from: Color;
  to: Color;
  /** How the running edge was changed; `none` on a dry-run. */
  applied: 'runtime' | 'reload' | 'none';
  /** On a dry-run: the config diff and the commands a real switch would run. */
  plan: SwitchStep[];
}

export async function switchColor(opts: SwitchOptions): Promise<SwitchResult> {
  const env = opts.workspace.env(opts.env);
  const envName = env.name;
  const color = validate.color(opts.color);
  const sha = opts.sha === undefined || opts.sha === '' ? undefined : validate.version(opts.sha, true);
  if (sha && env.driver !== 'local') validate.version(sha, false);
  const inputs = loadEdgeInputs(opts.workspace, env.edge);
  const host = opts.host ?? openEdgeHost(opts.workspace, inputs.def);
  const log = opts.log.child({ phase: 'switch' });
  const renderer = opts.renderer;

  const status = await host.status();
  if (!status.running && !opts.dryRun) {
    throw new VezaError(`the ${inputs.def.name} edge is not running (${status.detail})`, 'start it with nx run infra-edge:bootstrap, then switch again', 'EDGE_NOT_RUNNING');
  }

  const run = async (): Promise<SwitchResult> => {
    const recorded = await readLiveState(host, inputs);
    const from = recorded.colors[envName]!;
    const { model, text } = renderLive(inputs, recorded, { env: envName, color }, renderer);
    // Probed as the release the colour holds declares its health paths: after a fast rollback that is not the workspace's.
    const probed = recorded.held[envName]?.[color] ?? inputs.components;
    // Independent checks and reads, concurrently: they are most of a switch's latency.
    const [, probes, live, current] = await Promise.all([
      proveConfig(host, text, log, !opts.dryRun),
      probeColor(host, env, probed, color),
      host.readConfig(),
      status.running ? readServerStates(host) : undefined,
    ]);
    const failing = probes.filter((p) => !p.result.ok);
    if (failing.length && !opts.force && opts.dryRun) {
      log.warn(`without --force this switch would be refused: ${failing.map(describeProbe).join('; ')}`);
    } else if (failing.length && !opts.force) {
      throw new VezaError(
        `refusing to switch ${envName} to ${color}: its slots are not healthy (${failing.map(describeProbe).join('; ')})`,
        `deploy or start the ${color} slots first, or pass --force to switch anyway (the ${from} colour stays as backup)`,
        'UNHEALTHY_TARGET',
      );
    }
    if (opts.force) for (const p of failing) log.warn(`--force: switching despite ${describeProbe(p)}`);

    if (live === undefined) throw new VezaError(`${host.configPath} does not exist`, 'bootstrap the edge first: nx run infra-edge:bootstrap', 'EDGE_NOT_RUNNING');
    const resolveAfresh = !opts.strategy && opts.renewed === true && namedByDns(model, envName, color);
    if (resolveAfresh) log.info(`the ${color} slots are new and the edge reaches them by name: applying by reload, which resolves them afresh`);
    const strategy = chooseStrategy(opts.strategy ?? (resolveAfresh ? 'reload' : inputs.def.apply), live, text, log);
    const targets = tenantTargets(model, envName);
    const plan = opts.dryRun ? describePlan(host, live, text, strategy, targets, current) : [];
    if (opts.dryRun) {
      for (const line of plan.flatMap(describeSwitchStep)) log.info(line);
      return { env: envName, edge: inputs.def.name, from, to: color, applied: 'none', plan };
    }

    const before = strategy === 'runtime' ? snapshotTargets(current!, targets) : [];
    await host.backupConfig();
    try {
      await host.writeConfig(text);
      if (strategy === 'runtime') {
        await applyRuntime(host, targets, current);
      } else {
        await host.reload();
        await verifyTargets(host, targets);
      }
    } catch (e) {
      const restored = await restore(host, live, strategy, before).then(() => `the edge was restored to ${from}`, (r) => `restoring the backup failed too: ${describeError(r)}`);
      throw new VezaError(`switching ${envName} to ${color} failed: ${(e as Error).message}; ${restored}`, `fix the cause and switch again; the previous config is kept in ${host.configPath}.bak`, 'SWITCH_FAILED');
    }

    await writeActiveColor(host.state, envName, color);
    await recordSwitch(host.state, envName, { time: (opts.now ?? (() => new Date()))().toISOString(), color, sha, actor: opts.actor ?? currentActor().user }, env.retention.history);
    log.info(`${envName} now serves ${color} (was ${from}) through ${inputs.def.name}, applied by ${strategy}`);
    return { env: envName, edge: inputs.def.name, from, to: color, applied: strategy, plan };
  };

  return opts.dryRun ? run() : withEdgeLock(host.state, inputs.def.name, { action: 'switch', sha }, log, run);
}

/**
 * Whether `color`'s servers of `tenant` are host names HAProxy resolves. A
 * server in maintenance keeps the address it resolved before its slot was
 * re-created, so the Runtime API would send the new colour's traffic to the
 * old addresses (the pool's backup answering) until the resolvers caught up;
 * a seamless reload resolves every name afresh. Seen in the Incus tier: a
 * full rollback's verification timed out on the old colour.
 */
function namedByDns(model: EdgeModel, tenant: string, color: Color): boolean {
  const pools = model.tenants.find((t) => t.name === tenant)?.pools ?? [];
  const names = colorServerNames(color);
  return pools.some((p) => p.servers.some((s) => names.includes(s.name) && !isIpv4(s.host)));
}

function chooseStrategy(preferred: 'runtime' | 'reload', live: string, next: string, log: Logger): 'runtime' | 'reload' {
  if (preferred === 'runtime' && !onlyServerStatesDiffer(live, next)) {
    log.info('the config changes beyond server states (the releases declare other checks, routes or ports, or the edge file changed): applying by reload');
    return 'reload';
  }
  return preferred;
}

function describePlan(host: EdgeHost, live: string, text: string, strategy: 'runtime' | 'reload', targets: ServerTarget[], current: Map<string, ServerRuntimeState> | undefined): SwitchStep[] {
  const diff = unifiedDiff(live, text, { before: `${host.configPath} (live)`, after: `${host.configPath} (new)` });
  const plan: SwitchStep[] = [{ kind: 'write-file', path: host.configPath, diff, backup: `${host.configPath}.bak` }];
  if (!current) return [...plan, { kind: 'note', text: 'the edge is not running: bootstrap it first' }];
  if (strategy === 'reload') return [...plan, { kind: 'reload' }];
  return [...plan, { kind: 'runtime', commands: runtimeCommands(current, targets) }];
}

async function restore(host: EdgeHost, live: string, strategy: 'runtime' | 'reload', before: ServerTarget[]): Promise<void> {
  await host.writeConfig(live);
  if (strategy === 'runtime') await applyRuntime(host, before);
  else await host.reload();
}
