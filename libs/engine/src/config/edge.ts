import { z } from 'zod';
import { incusNetworkSchema } from './incus-placement';
import { hostListSchema, PATTERNS } from './names';
import { parseNamedYaml } from './yaml-errors';

/**
 * An edge: `infra/edges/<name>.yaml`. It says where the HAProxy runs and what
 * it fronts besides the environments (static sites, the ACME responder); the
 * environments and their routes are never listed here — every environment
 * whose `edge:` names this file is served by it, with the routes its
 * components declare.
 */
const port = z.number().int().min(1).max(65535);
const ipv4 = z.string().regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/, 'must be an IPv4 address');
/** `10.0.20.105:3000` or `forgejo.lxd:3000`: a server address HAProxy connects to. */
const hostPort = z.string().regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:8888')
  .refine((s) => { const p = Number(s.split(':').pop()); return p >= 1 && p <= 65535; }, 'port must be 1-65535');
/** HAProxy section and server names built from these stay within [a-z0-9_]. */
const siteName = z.string().regex(/^[a-z][a-z0-9_]{0,30}$/, 'must match [a-z][a-z0-9_]*');
/**
 * An absolute directory, or one under ${VEZA_EDGE_DIR}: the local edge host
 * sets that variable when it validates or starts HAProxy, so a rendered local
 * config does not depend on where the workspace is checked out.
 */
const runtimeDir = z.string().regex(/^(\/|\$\{VEZA_EDGE_DIR\})[A-Za-z0-9._\/-]*$/, 'must be an absolute path or start with ${VEZA_EDGE_DIR}');

export const EDGE_DIR_VAR = 'VEZA_EDGE_DIR';

const edgeDefinitionSchema = z.strictObject({
  name: z.string().regex(PATTERNS.component),
  /** Which EdgeHost runs it: a local HAProxy process, or the edge container on Incus. */
  host: z.enum(['local', 'incus']),
  /**
   * Where the Incus edge's container lives when no environment names the
   * edge (the lab); each unset field takes the environments' default. An
   * edge that environments name lives with them, and what is set here must
   * agree with every one of them: the command refuses otherwise, before it
   * changes anything (edge/incus-edge-host.ts edgeSettings()).
   */
  incus: z.strictObject({
    project: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be an Incus project name: lower-case letters, digits and dashes').optional(),
    network: incusNetworkSchema.optional(),
    image: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, 'must be an image alias or remote:alias, e.g. images:debian/13').optional(),
    storagePool: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a storage pool name').optional(),
  }).optional(),
  /**
   * blue-green: per environment, each pool holds both colours (seed 9f5e9c9c38);
   * multi-instance: the lab, N instances per component and no colours (seed a9541f517b).
   */
  topology: z.enum(['blue-green', 'multi-instance']).default('blue-green'),
  http: z.strictObject({
    port: port.default(80),
    /** Empty: every address. The local edge adds each local environment's edge address (hosts/naming.ts). */
    addresses: z.array(ipv4).default([]),
  }).default({ port: 80, addresses: [] }),
  https: z.strictObject({
    port: port.default(443),
    /** SNI directory: HAProxy loads every PEM in it and picks by server name (seed 4b1a401879). */
    certDir: z.string().regex(/^\/[A-Za-z0-9._\/-]*\/$/, 'must be an absolute directory path ending in "/"'),
    addresses: z.array(ipv4).default([]),
  }).optional(),
  /**
   * Certificates by ACME HTTP-01 (infra-edge:certificates): /.well-known/acme-challenge/
   * goes to the responder at `server` and is never redirected to HTTPS.
   */
  acme: z.strictObject({
    /** The responder the edge routes challenges to; the certificates command serves the challenge directory there. */
    server: hostPort,
    /** The CA's ACME directory URL (Let's Encrypt's, or a test CA such as Pebble). */
    directory: z.url({ protocol: /^https$/, error: 'must be the https:// URL of an ACME directory' }),
    /** The account's contact; the CA writes there about expiring certificates. */
    email: z.email({ error: 'must be an email address, e.g. ops@veza.fr' }),
    /** A certificate expiring within this many days is renewed (Let's Encrypt's last 30 of 90 by default). */
    renewDays: z.number().int().min(1).max(89).default(30),
    /** The ACME client's account and orders, and the challenge directory the responder serves. */
    stateDir: runtimeDir,
    /** Extra CA certificates to trust for the directory's own TLS (a test CA); none for a public CA. */
    caBundle: z.string().regex(/^(\/|\$\{VEZA_EDGE_DIR\})[A-Za-z0-9._\/-]*[^/]$/, 'must be an absolute file path').optional(),
  }).optional(),
  runtime: z.strictObject({
    /** Holds admin.sock (runtime API, level admin, expose-fd listeners) and master.sock. */
    socketDir: runtimeDir,
    /** Read-only stats socket for the Prometheus exporter; loopback only. */
    exporter: z.string().regex(/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}:\d{1,5}$/, 'must be a loopback address:port').optional(),
    /** syslog target, e.g. /dev/log; none when absent. */
    log: z.string().regex(/^\/[A-Za-z0-9._\/-]+$/).optional(),
  }),
  /**
   * How a switch reaches the running HAProxy: `runtime` flips server states
   * through the Runtime API; `reload` asks the master for a seamless reload.
   * The file is rewritten first in both cases. See BENCHMARKS.md for why the
   * default is what it is.
   */
  apply: z.enum(['runtime', 'reload']).default('runtime'),
  /** Gone: a switch retires the old colour straight to maintenance and waits for nothing (edge/apply.ts); said plainly to a file that still sets it. */
  drainMs: z.never({ error: 'no longer read: a switch puts the old colour straight in maintenance, which cuts nothing, and never waits — delete the line (tunnelDrainMs bounds how long a deploy waits for open WebSockets)' }).optional(),
  /**
   * Before a deploy or cleanup stops a retired colour's slots: how long it
   * waits for the sessions still open on them (WebSockets, which a switch
   * leaves on the old colour) to close. Stopping the slots then closes the
   * rest (veza-api says 1001 "going away"; clients reconnect to the live colour).
   */
  tunnelDrainMs: z.number({ error: 'must be a number of milliseconds, e.g. 30000' }).int('must be a whole number of milliseconds')
    .min(0, 'must be 0 (stop at once) or more')
    .max(3_600_000, 'must be at most 3600000 (1 h, the edge\'s tunnel timeout: a WebSocket silent that long is closed anyway)').default(30_000),
  /** Sites the edge happens to front outside the deploy pipeline (seed 5153ab113d). */
  sites: z.array(z.strictObject({
    name: siteName,
    hosts: hostListSchema.min(1),
    /** Where it lives; configuration data only, nothing here ever probes it. */
    server: hostPort.optional(),
    /** No server yet: answer 503 with this text. */
    placeholder: z.string().regex(/^[^"\\\n]{1,200}$/, 'must be one line without quotes or backslashes').optional(),
    /** false: plain HTTP only, never redirected (e.g. an internal host with no public certificate). */
    tls: z.boolean().default(true),
  }).refine((s) => Boolean(s.server) !== Boolean(s.placeholder), { message: 'give exactly one of server or placeholder' })).default([]),
  /** multi-instance only: the lab's instances, named <prefix><short>-<n>.<dnsSuffix>. */
  lab: z.strictObject({
    hosts: hostListSchema.min(1),
    instances: z.number().int().min(1).max(16),
    prefix: z.string().regex(/^[a-z][a-z0-9-]*-$/, 'must be lower-case and end with "-"'),
    dnsSuffix: z.string().regex(PATTERNS.host),
    /** Local lab only: `127.a.b`; instance n of every component binds `<subnet>.<10+n>` on its own port. */
    subnet: z.string().regex(/^127\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/, 'must be 127.<0-255>.<0-255>, e.g. 127.78.1').optional(),
  }).optional(),
}).superRefine((d, ctx) => {
  if (d.topology === 'multi-instance' && !d.lab) ctx.addIssue({ code: 'custom', path: ['lab'], message: 'the multi-instance topology needs lab: { hosts, instances, prefix, dnsSuffix }' });
  if (d.topology === 'blue-green' && d.lab) ctx.addIssue({ code: 'custom', path: ['lab'], message: 'lab is only for topology: multi-instance' });
  if (d.acme && !d.https) ctx.addIssue({ code: 'custom', path: ['acme'], message: 'ACME only makes sense with https' });
  if (d.host === 'local') {
    if (d.incus) ctx.addIssue({ code: 'custom', path: ['incus'], message: 'a local edge runs no container: remove incus, or set host: incus' });
    if (d.https && d.https.addresses.length === 0) ctx.addIssue({ code: 'custom', path: ['https'], message: 'list the loopback addresses the local edge serves HTTPS on, e.g. addresses: [127.0.0.1]' });
    d.https?.addresses.forEach((a, i) => {
      if (!a.startsWith('127.')) ctx.addIssue({ code: 'custom', path: ['https', 'addresses', i], message: 'the local edge binds only to loopback (127.0.0.0/8)' });
    });
    d.http.addresses.forEach((a, i) => {
      if (!a.startsWith('127.')) ctx.addIssue({ code: 'custom', path: ['http', 'addresses', i], message: 'the local edge binds only to loopback (127.0.0.0/8)' });
    });
    if (d.http.addresses.length === 0) ctx.addIssue({ code: 'custom', path: ['http', 'addresses'], message: 'list the loopback addresses the local edge binds, e.g. [127.0.0.1]' });
    if (d.runtime.exporter) ctx.addIssue({ code: 'custom', path: ['runtime', 'exporter'], message: 'the local edge has no exporter socket' });
    if (d.lab && !d.lab.subnet) ctx.addIssue({ code: 'custom', path: ['lab'], message: 'a local lab needs subnet: 127.a.b (its instances bind <subnet>.11, .12, …)' });
  }
});

export type EdgeDefinition = z.infer<typeof edgeDefinitionSchema>;

export const EDGES_DIR = 'infra/edges';

export function parseEdgeDefinition(file: string, text: string): EdgeDefinition {
  return parseNamedYaml(file, text, edgeDefinitionSchema, 'fix the edge file (see the comments in infra/edges/veza-haproxy.yaml)');
}
