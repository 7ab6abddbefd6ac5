import { join } from 'node:path';
import type { Environment } from '../config/environment';
import { WAIT_BOOTED, parseFacts, sha256 } from '../data/incus/services';
import * as cli from '../hosts/incus/cli';
import type { IncusClient } from '../hosts/incus/client';
import { DATA_PROFILE, type IncusSettings } from '../hosts/incus/host';
import type { Instance } from '../hosts/incus/json';
import type { Command } from '../ports/process';
import { shellScript } from '../util/shell-script';

/**
 * The environment's OpenTelemetry collector in a container of its own
 * (seed 84e92a75e2): `<prefix>otelcol`, placed by the host bootstrap when
 * observability.otlpEndpoint names that container on the Incus network's DNS
 * (`http://<prefix>otelcol.<dnsSuffix>:4318`), so the slots reach it by the
 * same name the bootstrap creates. The binary is veza-otelcol, built here
 * from its Go modules (tools/scripts/otelcol-build.sh), pushed as a file and
 * run by a systemd unit; inspected by checksums, so a second run plans
 * nothing. An endpoint naming anything else is a collector this pipeline
 * does not own.
 */
export const COLLECTOR_BINARY = '/usr/local/bin/veza-otelcol';
export const COLLECTOR_CONFIG = '/etc/veza-otelcol/config.yaml';
export const COLLECTOR_UNIT_FILE = '/etc/systemd/system/veza-otelcol.service';
const UNIT = 'veza-otelcol';
/** Where the collector appends the spans it receives: in the unit's state directory. */
export const SPAN_FILE = `/var/lib/${UNIT}/spans.jsonl`;

/** The build script prints the cached binary's path (building it once per version). */
export const COLLECTOR_BUILD = 'tools/scripts/otelcol-build.sh';

const INSPECT = shellScript('host/scripts/inspect-otelcol.sh');
const READY = shellScript('host/scripts/otelcol-ready.bash');

// A dynamic user: the collector owns nothing but its state directory, where the span file is.
export const COLLECTOR_UNIT = [
  '# written by veza',
  '[Unit]',
  'Description=Veza OpenTelemetry collector (veza-otelcol)',
  'After=network-online.target',
  '',
  '[Service]',
  `ExecStart=${COLLECTOR_BINARY} --config=${COLLECTOR_CONFIG}`,
  'DynamicUser=yes',
  `StateDirectory=${UNIT}`,
  'Restart=on-failure',
  'NoNewPrivileges=yes',
  'ProtectSystem=strict',
  'ProtectHome=yes',
  'PrivateTmp=yes',
  '',
  '[Install]',
  'WantedBy=multi-user.target',
  '',
].join('\n');

export interface CollectorPlacement {
  container: string;
  /** What the receiver binds inside the container: every address of its own network namespace. */
  listen: string;
  port: number;
}

export function collectorContainer(env: Pick<Environment, 'prefix'>): string {
  return cli.checkName('collector container', `${env.prefix}otelcol`);
}

/** The container placement when the endpoint names this environment's collector container; otherwise undefined. */
export function collectorPlacement(env: Pick<Environment, 'prefix' | 'observability'>, settings: Pick<IncusSettings, 'dnsSuffix'>): CollectorPlacement | undefined {
  const endpoint = env.observability?.otlpEndpoint;
  if (!endpoint) return undefined;
  const url = new URL(endpoint);
  const container = collectorContainer(env);
  if (url.hostname !== `${container}.${settings.dnsSuffix}`) return undefined;
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return { container, listen: `0.0.0.0:${port}`, port };
}

export function collectorBuild(root: string): Command {
  return { argv: ['bash', join(root, COLLECTOR_BUILD)], description: 'build veza-otelcol (cached per version)', timeoutMs: 30 * 60_000 };
}

export interface CollectorState {
  instance?: Instance;
  /** INSPECT's key=value lines; empty when the container does not run. */
  facts: Record<string, string>;
}

export async function inspectCollector(client: IncusClient, container: string): Promise<CollectorState> {
  const instance = await client.instance(container);
  if (!instance || instance.status !== 'Running') return { ...(instance ? { instance } : {}), facts: {} };
  const text = await client.output(container, ['sh', '-c', INSPECT, 'veza', COLLECTOR_BINARY, COLLECTOR_CONFIG, COLLECTOR_UNIT_FILE]);
  return { instance, facts: parseFacts(text) };
}

export interface CollectorWant {
  placement: CollectorPlacement;
  /** The binary on this machine, and its checksum. */
  binary: string;
  binarySha256: string;
  /** The rendered collector config. */
  config: string;
  image: string;
  network: string;
  pool: string;
}

export interface CollectorPlan {
  commands: Command[];
  /** Run after the commands, every time: the receiver accepts connections. */
  checks: Command[];
}

/** The commands that bring the collector container in line with `want`; none when it already is. */
export function planCollector(client: IncusClient, want: CollectorWant, state: CollectorState): CollectorPlan {
  const ct = want.placement.container;
  const scope = client.scope;
  const commands: Command[] = [];
  const exec = (argv: string[], description: string, timeoutMs = 60_000) => cli.exec(scope, ct, argv, { description, timeoutMs });
  if (!state.instance) {
    commands.push(cli.launch(scope, { image: want.image, name: ct, profiles: [DATA_PROFILE], network: want.network, pool: want.pool }));
  } else if (state.instance.status !== 'Running') {
    commands.push(cli.startInstance(scope, ct));
  }
  if (!state.instance || state.instance.status !== 'Running') commands.push(exec(['sh', '-c', WAIT_BOOTED, 'veza'], `wait for ${ct} to boot`, 5 * 60_000));
  const f = state.facts;
  const changed: Command[] = [];
  if (f.binary !== want.binarySha256) changed.push(cli.filePush(scope, ct, want.binary, COLLECTOR_BINARY, { uid: 0, gid: 0, mode: '0755' }));
  if (f.config !== sha256(want.config)) changed.push(client.writeFileCommand(ct, COLLECTOR_CONFIG, want.config, { mode: '0644', description: `write ${ct}:${COLLECTOR_CONFIG}` }));
  if (f.unit !== sha256(COLLECTOR_UNIT)) changed.push(client.writeFileCommand(ct, COLLECTOR_UNIT_FILE, COLLECTOR_UNIT, { mode: '0644', description: `write ${ct}:${COLLECTOR_UNIT_FILE}` }));
  commands.push(...changed);
  if (changed.length) commands.push(exec(['systemctl', 'daemon-reload'], `reload systemd's units in ${ct}`));
  if (f.enabled !== 'enabled') commands.push(exec(['systemctl', 'enable', '--quiet', UNIT], `enable ${UNIT} at boot in ${ct}`));
  if (changed.length || f.active !== 'active') commands.push(exec(['systemctl', 'restart', UNIT], `(re)start ${UNIT} in ${ct}`, 2 * 60_000));
  const checks = [exec(['bash', '-c', READY, 'veza', String(want.placement.port)], `check that ${UNIT} in ${ct} accepts OTLP on port ${want.placement.port}`)];
  return { commands, checks };
}
