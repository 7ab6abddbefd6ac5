import type { Workspace } from '../config/workspace';
import { formatArgv } from '../ports/process';
import { VezaError, describeError } from '../log/errors';
import type { Logger } from '../log/logger';
import { unifiedDiff } from './diff';
import type { EdgeHost } from './edge-host';
import { withEdgeLock } from './edge-lock';
import { loadEdgeInputs } from './model';
import { openEdgeHost, type OpenEdgeHostOptions } from './open-host';
import { readLiveState, renderLive } from './live';
import { proveConfig } from './proof';
import { ensureDefaultCertificate } from './certificates';

/**
 * Creates or updates an edge: renders its config with every served
 * environment's recorded colour, proves it with haproxy -c, writes it, then
 * starts HAProxy — or, when it already runs and the config changed, reloads
 * it seamlessly. Idempotent: a second run with nothing changed does nothing.
 */
export interface EdgeTarget {
  workspace: Workspace;
  /** The edge, or the environment whose edge it is (default: local's). */
  edge?: string;
  env?: string;
  log: Logger;
  host?: EdgeHost;
  hostOptions?: OpenEdgeHostOptions;
}

export type BootstrapAction = 'started' | 'reloaded' | 'unchanged' | 'planned';

export async function bootstrapEdge(opts: EdgeTarget & { dryRun?: boolean }): Promise<{ edge: string; action: BootstrapAction; plan: string[] }> {
  const { inputs, host } = resolveEdge(opts);
  const log = opts.log.child({ phase: 'edge' });
  const run = async () => {
    const certDir = inputs.def.https?.certDir;
    if (certDir && !opts.dryRun) {
      const made = await ensureDefaultCertificate(host, certDir);
      if (made) log.info(`no certificate in ${certDir} yet: created the self-signed default ${made} (infra-edge:certificates issues the real ones)`);
    }
    const { text } = renderLive(inputs, await readLiveState(host, inputs));
    await proveConfig(host, text, log, !opts.dryRun);
    const live = await host.readConfig();
    const changed = live !== text;
    const status = await host.status();
    const plan: string[] = [];
    if (changed) plan.push(`write ${host.configPath}`, unifiedDiff(live ?? '', text, { before: live === undefined ? '/dev/null' : `${host.configPath} (live)`, after: `${host.configPath} (new)` }));
    if (!status.running) plan.push(`start: ${formatArgv(host.startCommand().argv)}`);
    else if (changed) plan.push('reload HAProxy through its master socket');
    if (opts.dryRun) {
      for (const line of plan.length ? plan : ['the edge runs and its config is current: nothing to do']) log.info(line);
      return { edge: inputs.def.name, action: 'planned' as const, plan };
    }

    if (changed) {
      if (live !== undefined) await host.backupConfig();
      await host.writeConfig(text);
    }
    if (!status.running) {
      await host.start();
      log.info(`started the ${inputs.def.name} edge (${(await host.status()).detail})`);
      return { edge: inputs.def.name, action: 'started' as const, plan };
    }
    if (!changed) {
      log.info(`the ${inputs.def.name} edge runs and its config is current`);
      return { edge: inputs.def.name, action: 'unchanged' as const, plan };
    }
    try {
      await host.reload();
    } catch (e) {
      if (live !== undefined) await host.writeConfig(live);
      throw new VezaError(`reloading the ${inputs.def.name} edge failed: ${describeError(e)}; its previous config was put back`, 'fix the cause and bootstrap again', 'EDGE_RELOAD_FAILED');
    }
    log.info(`reloaded the ${inputs.def.name} edge with its updated config`);
    return { edge: inputs.def.name, action: 'reloaded' as const, plan };
  };
  return opts.dryRun ? run() : withEdgeLock(host.state, inputs.def.name, { action: 'bootstrap' }, log, run);
}

/** Stops the edge's HAProxy (graceful, then forced); the deploy engine's `down` calls this. */
export async function stopEdge(opts: EdgeTarget): Promise<void> {
  const { inputs, host } = resolveEdge(opts);
  await host.stop();
  opts.log.info(`stopped the ${inputs.def.name} edge`);
}

function resolveEdge(opts: EdgeTarget) {
  const inputs = loadEdgeInputs(opts.workspace, opts.edge ?? opts.workspace.env(opts.env).edge);
  const host = opts.host ?? openEdgeHost(opts.workspace, inputs.def, opts.hostOptions);
  return { inputs, host };
}
