import type { TestContext } from 'node:test';
import type { Environment } from '@veza/engine/config/environment';
import * as cli from '@veza/engine/hosts/incus/cli';
import { IncusClient } from '@veza/engine/hosts/incus/client';
import { parseNames, parseProfiles } from '@veza/engine/hosts/incus/json';
import { createProcessRunner, type Command } from '@veza/engine/ports/process';

/**
 * The tier's Incus project is its own (infra/environments/incus-test.yaml):
 * whatever is in it was made by this tier, so wiping it — instances with
 * their snapshots, profiles, the project — touches nothing else on the host.
 * The shared image, pool and bridge stay for the next run.
 */
export async function wipeProject(env: Environment): Promise<string[]> {
  const project = env.incus!.project;
  if (project === 'default') throw new Error('refusing to wipe the default Incus project');
  const runner = createProcessRunner();
  const projects = parseNames((await runner.run(cli.listProjects())).stdout, 'incus project list');
  if (!projects.includes(project)) return [];
  const client = new IncusClient(runner, project);
  const removed = (await client.instances()).map((i) => i.name);
  // Deleting a container on a dir pool is mostly disk work: side by side it finishes sooner.
  await Promise.all(removed.map((name) => client.run(cli.deleteInstance(client.scope, name))));
  for (const p of parseProfiles((await client.run(cli.listProfiles(client.scope))).stdout)) {
    if (p.name !== 'default') await runner.run(raw(['profile', 'delete', p.name, '--project', project]));
  }
  await runner.run(raw(['project', 'delete', project]));
  return removed;
}

/**
 * A data-tier test's project for its whole run: wiped of an earlier run's
 * leftovers now and wiped again when the test ends, pass or fail, with
 * `secrets` in the environment meanwhile; on `bridge` (made now when
 * missing, removed after the wipe) when the test has a bridge of its own. Returns the test's progress line
 * printer (`[tag +Ns] …`).
 */
export async function ownProject(t: TestContext, env: Environment, secrets: Record<string, string>, tag: string, bridge?: { name: string; address: string }): Promise<(m: string) => void> {
  const started = Date.now();
  const say = (m: string) => process.stderr.write(`[${tag} +${((Date.now() - started) / 1000).toFixed(1)}s] ${m}\n`);
  Object.assign(process.env, secrets);
  const removeBridge = bridge ? await ownBridge(bridge.name, `${bridge.address}/24`) : async () => undefined;
  const leftovers = await wipeProject(env);
  if (leftovers.length) say(`removed leftovers of an earlier run: ${leftovers.join(', ')}`);
  t.after(async () => {
    say(`teardown: removed project ${env.incus!.project} with ${(await wipeProject(env)).join(', ') || 'nothing'}`);
    await removeBridge();
    for (const k of Object.keys(secrets)) delete process.env[k];
  });
  return say;
}

/**
 * A NAT bridge of the test's own (its containers install packages with apt,
 * and the host answers them on its address there), created when missing.
 * Returns its removal, a no-op for a bridge that was already there; call it
 * after the project is wiped, since a container still on it holds it.
 */
export async function ownBridge(name: string, cidr: string): Promise<() => Promise<void>> {
  const runner = createProcessRunner();
  const networks = parseNames((await runner.run(raw(['network', 'list', '--format', 'json']))).stdout, 'incus network list');
  if (networks.includes(name)) return async () => undefined;
  await runner.run(raw(['network', 'create', name, `ipv4.address=${cidr}`, 'ipv4.nat=true', 'ipv6.address=none', 'dns.domain=incus']));
  return async () => {
    await runner.run(raw(['network', 'delete', name]));
  };
}

/** The bridge's own address: its dnsmasq answers for the instances on it. */
export async function bridgeAddress(network: string): Promise<string> {
  const res = await createProcessRunner().run(raw(['network', 'get', network, 'ipv4.address']));
  const address = res.stdout.trim().split('/')[0]!;
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) throw new Error(`network ${network} has no IPv4 address (${res.stdout.trim()}); run bash tools/scripts/incus-setup.sh`);
  return address;
}

function raw(args: string[]): Command {
  return { argv: [cli.INCUS, ...args], input: '', timeoutMs: 120_000, description: `incus ${args.slice(0, 2).join(' ')}` };
}
