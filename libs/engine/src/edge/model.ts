import type { RuntimeDeclaration } from '../config/component';
import type { Environment } from '../config/environment';
import type { Workspace } from '../config/workspace';
import { PATTERNS, otherColor, type Color } from '../config/names';
import { VezaError } from '../log/errors';
import { LOCAL_HOST_OCTET, localAddress, shortName, slotEndpoint } from '../hosts/naming';
import type { EdgeDefinition } from '../config/edge';

/**
 * What one HAProxy serves, computed — never hand-kept — from the edge file,
 * every environment whose `edge:` names it, the components' declarations and
 * each environment's active colour. Pure data; render.ts turns it into text.
 *
 * Blue-green pools hold every colour twice: as a primary (`blue`, `green`)
 * and as a backup (`blue_backup`, `green_backup`). Which of the four are in
 * maintenance encodes the active colour: the active colour's primary and the
 * other colour's backup serve, so the seed's semantics hold (the other colour
 * takes over when every primary fails its checks), yet a switch is only
 * server state changes — something the Runtime API can do without a reload,
 * which the `backup` flag itself cannot.
 *
 * A release is the unit of deployment, declarations included: each colour's
 * servers come from the release that colour holds (its port), and a tenant's
 * checks, balance, cookies and routes from the release its active colour
 * holds. A deploy that fails before its switch therefore leaves the live
 * config byte-identical, a switch carries the new release's declarations to
 * the edge (by reload when they differ), and a switch back restores the
 * previous ones. The backup twin of the other colour is checked on the
 * active release's health path: when the releases disagree on it, the twin
 * fails its check and takes no traffic, which is the safe way round.
 */
export interface EdgeServer {
  name: string;
  host: string;
  port: number;
  backup: boolean;
  /** Starts in maintenance (`disabled`); the Runtime API mirrors this at switch time. */
  disabled: boolean;
  cookie?: string;
}

export interface EdgePool {
  name: string;
  component: string;
  balance: 'roundrobin' | 'uri-hash';
  /** Sticky cookie name; per tenant so a staging session never rides into prod. */
  cookie?: string;
  secureCookie: boolean;
  websocket: boolean;
  health: string;
  servers: EdgeServer[];
  /** The environment's preview pool of this component: the inactive colour's primary alone serves. */
  preview?: boolean;
}

export interface EdgeRoute {
  /** The tenant's pool the route leads to; its ACLs are named after it, since tenants may run releases that route differently. */
  pool: string;
  prefixes: string[];
  suffixes: string[];
  suffixUnder?: string;
}

/** An environment (blue-green) or the lab (multi-instance): one Host ACL and its pools. */
export interface EdgeTenant {
  name: string;
  hosts: string[];
  /** Routed, path by path as `hosts`, to the preview pools (environment previewHosts). */
  previewHosts?: string[];
  color?: Color;
  routes: EdgeRoute[];
  /** Served over HTTPS: plain HTTP gets redirected, cookies are Secure. */
  tls: boolean;
  pools: EdgePool[];
  defaultPool?: string;
}

export interface EdgeSite {
  name: string;
  backend: string;
  hosts: string[];
  server?: { host: string; port: number };
  placeholder?: string;
  tls: boolean;
}

/** Who HAProxy's workers run as once the master, still root, has bound every socket. */
export interface EdgePrivileges {
  user: string;
  group: string;
  /** An empty directory the workers are locked into: they read nothing from disk after start. */
  chroot: string;
}

/**
 * Debian's packaged haproxy.cfg: the `haproxy` user and group its package
 * creates, and the empty chroot its unit bind-mounts /dev/log into. Only for
 * an edge started as root (the Incus edge container); the local edge runs
 * HAProxy as the invoking user, who cannot change identity.
 */
const CONTAINER_PRIVILEGES: EdgePrivileges = { user: 'haproxy', group: 'haproxy', chroot: '/var/lib/haproxy' };

export interface EdgeModel {
  name: string;
  topology: EdgeDefinition['topology'];
  privileges?: EdgePrivileges;
  http: { port: number; addresses: string[] };
  https?: { port: number; addresses: string[]; certDir: string };
  acme?: { host: string; port: number };
  runtime: EdgeDefinition['runtime'];
  tenants: EdgeTenant[];
  sites: EdgeSite[];
}

export interface EdgeInputs {
  def: EdgeDefinition;
  /** Environments whose `edge:` names this edge, sorted by name. */
  envs: Environment[];
  components: RuntimeDeclaration[];
}

const COLORS: readonly Color[] = ['blue', 'green'];

/** Server names in a blue-green pool; backup twins keep their own cookie so a sticky client never follows a colour into its backup role. */
function serverName(color: Color, backup: boolean): string {
  return backup ? `${color}_backup` : color;
}

/** The servers that are `color` in a blue-green pool: its primary and its backup twin. */
export function colorServerNames(color: Color): [string, string] {
  return [serverName(color, false), serverName(color, true)];
}

export function poolName(tenant: string, backend: string): string {
  return `${tenant}_${backend}`;
}

/**
 * The pools of `tenant` whose sessions can outlive a request: WebSocket
 * pools (their previews included) and sticky ones. A switch leaves those
 * sessions on the old colour, so a deploy drains them before it stops that
 * colour's slots (deploy/tunnel-drain.ts). A plain pool's old colour holds
 * nothing once in maintenance but requests in flight, which the slot's own
 * shutdown lets finish: there is nothing to wait for.
 */
export function drainedPools(model: EdgeModel, tenant: string): string[] {
  return (model.tenants.find((t) => t.name === tenant)?.pools ?? []).filter((p) => p.websocket || p.cookie !== undefined).map((p) => p.name);
}

/** The sessions `sessions` (`show stat` scur by `pool/server`) holds to one colour in `pools`: its primary and its backup twin. */
export function colorSessions(sessions: Map<string, number>, pools: readonly string[], color: Color): number {
  const servers = colorServerNames(color);
  let n = 0;
  for (const [id, count] of sessions) {
    const [pool, server] = id.split('/');
    if (pools.includes(pool!) && servers.includes(server!)) n += count;
  }
  return n;
}

/** The preview twin of a pool: routed by the same path ACLs, under the environment's preview hosts. */
export function previewPoolName(pool: string): string {
  return `${pool}_preview`;
}

export function loadEdgeInputs(workspace: Workspace, edge: string): EdgeInputs {
  return { def: workspace.edge(edge), envs: workspace.envsOn(edge), components: workspace.components };
}

/**
 * Per environment, the declarations of the release each colour holds (the
 * deploy history's); a colour holding nothing recorded is served as the
 * workspace declares its components.
 */
export type HeldDeclarations = Readonly<Record<string, Partial<Record<Color, readonly RuntimeDeclaration[]>>>>;

/** `colors` holds each environment's active colour; an environment missing from it is blue (the seed's default). */
export function buildEdgeModel(inputs: EdgeInputs, colors: Readonly<Record<string, Color>> = {}, held: HeldDeclarations = {}): EdgeModel {
  const { def, envs } = inputs;
  const routed = routedOf(inputs.components);
  checkRoutes(routed);
  for (const env of envs) checkEnvOnEdge(def, env);
  if (def.host === 'local') checkLocalAddresses(def, envs);
  for (const name of Object.keys(colors)) {
    if (!envs.some((e) => e.name === name)) {
      throw new VezaError(`environment "${name}" is not served by edge ${def.name}`, `served: ${envs.map((e) => e.name).join(', ') || 'none'}`, 'INVALID_INPUT');
    }
  }

  const tenants: EdgeTenant[] = def.topology === 'multi-instance'
    ? [labTenant(def, routed)]
    : envs.map((env) => envTenant(env, colors[env.name] ?? 'blue', (col) => held[env.name]?.[col] ?? inputs.components));
  const sites: EdgeSite[] = def.sites.map((s) => ({
    name: s.name,
    backend: `${s.name}_backend`,
    hosts: s.hosts,
    server: s.server ? splitHostPort(s.server) : undefined,
    placeholder: s.placeholder,
    tls: Boolean(def.https) && s.tls,
  }));
  checkHostsUnique(def.name, tenants, sites);

  const envAddresses = def.host === 'local' ? envs.map((e) => localAddress(e, 'edge')) : [];
  return {
    name: def.name,
    topology: def.topology,
    privileges: def.host === 'incus' ? CONTAINER_PRIVILEGES : undefined,
    http: { port: def.http.port, addresses: unique([...def.http.addresses, ...envAddresses]) },
    https: def.https ? { port: def.https.port, addresses: def.https.addresses, certDir: def.https.certDir } : undefined,
    acme: def.acme ? splitHostPort(def.acme.server) : undefined,
    runtime: def.runtime,
    tenants,
    sites,
  };
}

type Routed = RuntimeDeclaration & { edge: NonNullable<RuntimeDeclaration['edge']> };

function routedOf(components: readonly RuntimeDeclaration[]): Routed[] {
  return components.filter((c): c is Routed => c.edge !== null);
}

function envTenant(env: Environment, color: Color, holds: (c: Color) => readonly RuntimeDeclaration[]): EdgeTenant {
  const tls = new URL(env.publicUrl).protocol === 'https:';
  const components = routedOf(holds(color));
  // The release the colour holds was checked when it was built, against the declarations of its day; check it as a set again.
  checkRoutes(components);
  const pools = components.map((c): EdgePool => {
    const servers: EdgeServer[] = [];
    for (const backup of [false, true]) {
      for (const col of COLORS) {
        // A component the colour's release lacks has no slot there: its server stays on the active release's address and fails its check.
        const { host, port } = slotEndpoint(env, holds(col).find((d) => d.name === c.name) ?? c, col);
        const serving = backup ? col === otherColor(color) : col === color;
        servers.push({ name: serverName(col, backup), host, port, backup, disabled: !serving, cookie: c.edge.sticky ? serverName(col, backup) : undefined });
      }
    }
    return pool(env.name, c, tls, servers);
  });
  // Both primaries, the live one in maintenance: a switch flips them with the rest of the tenant's servers, by the Runtime API.
  const previews = env.previewHosts.length === 0 ? [] : components.map((c): EdgePool => {
    const inactive = otherColor(color);
    const held = holds(inactive).find((d) => d.name === c.name) ?? c;
    const servers = COLORS.map((col): EdgeServer => {
      const { host, port } = slotEndpoint(env, holds(col).find((d) => d.name === c.name) ?? c, col);
      return { name: col, host, port, backup: false, disabled: col !== inactive };
    });
    return { ...pool(env.name, { ...c, run: { ...c.run, health: held.run.health } }, tls, servers), name: previewPoolName(poolName(env.name, c.edge.backend)), cookie: undefined, preview: true };
  });
  return {
    name: env.name, hosts: env.publicHosts, ...(previews.length ? { previewHosts: env.previewHosts } : {}), color, tls, pools: [...pools, ...previews],
    routes: tenantRoutes(env.name, components), defaultPool: defaultPool(env.name, components),
  };
}

function labTenant(def: EdgeDefinition, components: Routed[]): EdgeTenant {
  const lab = def.lab!;
  const pools = components.map((c) => {
    const servers = Array.from({ length: lab.instances }, (_, i): EdgeServer => {
      const name = `${shortName(c.name)}-${i + 1}`;
      return { name, host: labInstanceHost(lab, name, i + 1), port: c.run.port, backup: false, disabled: false, cookie: c.edge.sticky ? name : undefined };
    });
    return pool('lab', c, false, servers);
  });
  return { name: 'lab', hosts: lab.hosts, tls: false, pools, routes: tenantRoutes('lab', components), defaultPool: defaultPool('lab', components) };
}

/** Where instance n runs: its container's DNS name on Incus, `<subnet>.<10+n>` in a local lab. */
export function labInstanceHost(lab: NonNullable<EdgeDefinition['lab']>, name: string, n: number): string {
  return lab.subnet ? `${lab.subnet}.${10 + n}` : `${lab.prefix}${name}.${lab.dnsSuffix}`;
}

function tenantRoutes(tenant: string, components: Routed[]): EdgeRoute[] {
  return components
    .filter((c) => c.edge.prefixes.length || c.edge.suffixes.length)
    .map((c) => ({ pool: poolName(tenant, c.edge.backend), prefixes: c.edge.prefixes, suffixes: c.edge.suffixes, suffixUnder: c.edge.suffixUnder }));
}

function pool(tenant: string, c: Routed, tls: boolean, servers: EdgeServer[]): EdgePool {
  return {
    name: poolName(tenant, c.edge.backend),
    component: c.name,
    balance: c.edge.balance,
    cookie: c.edge.sticky ? `veza_srv_${tenant}` : undefined,
    secureCookie: tls,
    websocket: c.edge.websocket,
    health: c.run.health,
    servers,
  };
}

function defaultPool(tenant: string, components: Routed[]): string | undefined {
  const d = components.find((c) => c.edge.default);
  return d ? poolName(tenant, d.edge.backend) : undefined;
}

function checkEnvOnEdge(def: EdgeDefinition, env: Environment): void {
  const file = `infra/environments/${env.name}.yaml`;
  if (def.topology === 'multi-instance') {
    throw new VezaError(`${file}: edge ${def.name} is a multi-instance (lab) edge and serves no environment`, 'point the environment at a blue-green edge', 'BAD_CONFIG');
  }
  if (env.driver !== def.host) {
    throw new VezaError(`${file}: a ${env.driver} environment cannot use edge ${def.name}, which runs on ${def.host}`, `use an edge whose host is ${env.driver}`, 'BAD_CONFIG');
  }
  const url = new URL(env.publicUrl);
  const https = url.protocol === 'https:';
  if (https && !def.https) {
    throw new VezaError(`${file}: publicUrl ${env.publicUrl} is https but edge ${def.name} serves plain HTTP only`, 'use an http:// publicUrl, or add https to the edge', 'BAD_CONFIG');
  }
  const expected = https ? def.https!.port : def.http.port;
  const actual = url.port ? Number(url.port) : https ? 443 : 80;
  if (actual !== expected) {
    throw new VezaError(`${file}: publicUrl ${env.publicUrl} uses port ${actual} but edge ${def.name} listens on ${expected}`, `set the publicUrl port to ${expected}`, 'BAD_CONFIG');
  }
  if (!env.publicHosts.includes(url.hostname)) {
    throw new VezaError(`${file}: publicUrl host ${url.hostname} is not in publicHosts`, 'add it to publicHosts so the edge routes it', 'BAD_CONFIG');
  }
}

/**
 * Local environments on one edge each bind their own `<subnet>.<n>`
 * addresses; two that share one, or an edge address that is another
 * environment's slot or data address, would fight over a port at start.
 */
function checkLocalAddresses(def: EdgeDefinition, envs: Environment[]): void {
  const owners = new Map<string, string>();
  for (const a of def.http.addresses) owners.set(a, `edge ${def.name} (infra/edges/${def.name}.yaml http.addresses)`);
  for (const env of envs) {
    for (const role of Object.keys(LOCAL_HOST_OCTET) as (keyof typeof LOCAL_HOST_OCTET)[]) {
      const address = localAddress(env, role);
      const owner = owners.get(address);
      if (owner && !(role === 'edge' && owner.startsWith('edge '))) {
        throw new VezaError(`infra/environments/${env.name}.yaml: local.subnet ${env.local!.subnet} gives its ${role} the address ${address}, which ${owner} already uses`,
          'give each local environment its own local.subnet (127.<0-255>.<0-255>)', 'BAD_CONFIG');
      }
      owners.set(address, `the ${role} of environment ${env.name}`);
    }
  }
}

function checkRoutes(components: Routed[]): void {
  const backends = new Map<string, string>();
  for (const c of components) {
    const other = backends.get(c.edge.backend);
    if (other) throw new VezaError(`components ${other} and ${c.name} both declare edge.backend ${c.edge.backend}`, 'give each component its own edge.backend', 'BAD_COMPONENT');
    backends.set(c.edge.backend, c.name);
  }
  // Rules are evaluated in order; overlapping prefixes would make the order a hidden routing decision.
  const prefixes = components.flatMap((c) => c.edge.prefixes.map((p) => ({ p: p.replace(/\/+$/, ''), c: c.name })));
  for (const a of prefixes) {
    for (const b of prefixes) {
      if (a.c !== b.c && (a.p === b.p || b.p.startsWith(a.p + '/'))) {
        throw new VezaError(`edge prefix ${b.p} of ${b.c} overlaps ${a.p} of ${a.c}`, 'make the components\' edge.prefixes disjoint', 'BAD_COMPONENT');
      }
    }
  }
}

function checkHostsUnique(edge: string, tenants: EdgeTenant[], sites: EdgeSite[]): void {
  const owner = new Map<string, string>();
  for (const [who, hosts] of [...tenants.map((t) => [`environment ${t.name}`, [...t.hosts, ...(t.previewHosts ?? [])]] as const), ...sites.map((s) => [`site ${s.name}`, s.hosts] as const)]) {
    for (const h of hosts) {
      if (!PATTERNS.host.test(h)) throw new VezaError(`invalid host name ${JSON.stringify(h)} for ${who}`, 'use a lower-case DNS name such as staging.veza.fr', 'INVALID_INPUT');
      const other = owner.get(h);
      if (other) throw new VezaError(`host ${h} is claimed by both ${other} and ${who} on edge ${edge}`, 'each public host belongs to exactly one environment or site', 'BAD_CONFIG');
      owner.set(h, who);
    }
  }
}

function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}
