import { previewPoolName, type EdgeModel, type EdgePool, type EdgeRoute, type EdgeServer, type EdgeSite, type EdgeTenant } from './model';

/**
 * EdgeModel → haproxy.cfg text. Pure and deterministic: the same model gives
 * the same bytes (no timestamps, stable ordering), so the rendered file can
 * be cached, diffed and kept as a golden.
 */
export type EdgeRenderer = (model: EdgeModel) => string;

/** Mozilla "intermediate" server-side TLS for HAProxy (ssl-config.mozilla.org, guideline 5.7). */
const MOZILLA_INTERMEDIATE = {
  curves: 'X25519:prime256v1:secp384r1',
  ciphers: [
    'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
    'DHE-RSA-AES128-GCM-SHA256', 'DHE-RSA-AES256-GCM-SHA384', 'DHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  ciphersuites: 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256',
  options: 'prefer-client-ciphers no-sslv3 no-tlsv10 no-tlsv11 no-tls-tickets',
} as const;

const ACME_PATH = '/.well-known/acme-challenge/';
const RESOLVERS = 'veza_dns';
/**
 * Every pool server's health check; `labTimeoutS` bounds a lab pool's connects and checks. The lab's
 * failover drill holds the edge to these figures: DOWN within fall × (inter + labTimeoutS).
 */
export const CHECK = { interS: 5, fall: 3, rise: 2, slowstartS: 30, labTimeoutS: 1 } as const;
/**
 * Health checks and recovery, seed a9541f517b. The lab's instances serve
 * side by side, so the WebSockets of one marked down are closed at once
 * (on-marked-down shutdown-sessions, labTunnelBackend) and their clients
 * reconnect to a survivor. Not in a blue-green pool: HAProxy applies it to
 * maintenance too, and a switch puts the old colour in maintenance — its open
 * WebSockets would be cut instead of drained (README, WebSockets across a switch).
 */
/** Below fall × inter (the DOWN, which cuts what a lost instance still holds): a lab request's wait for its answer, resent after it. */
const LAB_SERVER_TIMEOUT_S = 5;
const check = () => `check inter ${CHECK.interS}s fall ${CHECK.fall} rise ${CHECK.rise} slowstart ${CHECK.slowstartS}s`;
/** Slots are recreated on deploy and may come back on another address: resolve at run time, and let the backup twin share its primary's address. */
const DNS_SERVER = `resolvers ${RESOLVERS} resolve-prefer ipv4 init-addr libc,none resolve-opts allow-dup-ip`;

export const renderHaproxyConfig: EdgeRenderer = (m) => {
  const blocks = [
    header(m),
    globalSection(m),
    defaultsSection(m),
    needsResolvers(m) ? resolversSection() : [],
    frontendSection(m),
    m.acme ? ['backend letsencrypt_backend', `  # the responder serves the challenge directory at its root`, `  http-request replace-path ${ACME_PATH.replace(/\./g, '\\.')}(.*) /\\1`, `  server acme ${m.acme.host}:${m.acme.port}`] : [],
    ...m.sites.map(siteBackend),
    ...m.tenants.flatMap((t) => t.pools.flatMap((p) => {
      const lab = m.topology === 'multi-instance';
      return lab && p.websocket ? [poolBackend(t, p, lab), labTunnelBackend(p)] : [poolBackend(t, p, lab)];
    })),
    ['backend default_503', '  # any host no environment or site claims', '  http-request return status 503 content-type "text/plain; charset=utf-8" string "no site is served under this host name"'],
  ];
  return blocks.filter((b) => b.length > 0).map((b) => b.join('\n')).join('\n\n') + '\n';
};

function header(m: EdgeModel): string[] {
  const served = m.topology === 'multi-instance'
    ? `multi-instance lab: ${m.tenants.map((t) => t.hosts.join(' ')).join(' ')}`
    : `environments: ${m.tenants.map((t) => `${t.name}=${t.color}`).join(' ') || 'none'}`;
  return [
    `# Edge ${m.name} — rendered by libs/engine/src/edge/render.ts from infra/edges/${m.name}.yaml,`,
    '# infra/environments/*.yaml and apps/*/component.json. Do not edit: bootstrap and switch rewrite it.',
    `# ${served}`,
  ];
}

function globalSection(m: EdgeModel): string[] {
  const r = m.runtime;
  const lines = ['global'];
  if (r.log) lines.push(`  log ${r.log} local0`);
  if (m.privileges) {
    // The master keeps root to bind ports, re-read certificates on reload and serve its CLI; a worker needs none of it.
    lines.push(`  chroot ${m.privileges.chroot}`, `  user ${m.privileges.user}`, `  group ${m.privileges.group}`);
  }
  // expose-fd listeners lets a reloading process take the listening sockets over, so no connection is refused.
  lines.push(`  stats socket "${r.socketDir}/admin.sock" mode 600 level admin expose-fd listeners`);
  if (r.exporter) lines.push(`  stats socket ipv4@${r.exporter} level user`);
  lines.push('  stats timeout 30s');
  if (m.https) {
    lines.push(
      `  ssl-default-bind-curves ${MOZILLA_INTERMEDIATE.curves}`,
      `  ssl-default-bind-ciphers ${MOZILLA_INTERMEDIATE.ciphers}`,
      `  ssl-default-bind-ciphersuites ${MOZILLA_INTERMEDIATE.ciphersuites}`,
      `  ssl-default-bind-options ${MOZILLA_INTERMEDIATE.options}`,
      '  tune.ssl.default-dh-param 2048',
    );
  }
  return lines;
}

function defaultsSection(m: EdgeModel): string[] {
  const lines = ['defaults', '  mode http'];
  if (m.runtime.log) lines.push('  log global', '  option httplog', '  option dontlognull');
  lines.push(
    '  option forwardfor',
    // On every retry, not only the last: a retry aimed again at a server that is dying can be cut when the
    // check marks it down (the lab's on-marked-down shutdown-sessions), which the client sees as a hang-up.
    '  option redispatch 1',
    // A reload must not close idle keep-alive connections under a client that is about to reuse them.
    '  option idle-close-on-response',
    '  retries 3',
    '  timeout connect 5s',
    '  timeout client 30s',
    '  timeout server 30s',
    '  timeout http-request 10s',
    '  timeout http-keep-alive 10s',
    '  timeout queue 30s',
  );
  return lines;
}

function resolversSection(): string[] {
  // hold obsolete 0s: a server keeps its address while that address is among the name's answers, and an
  // obsolete answer counts as one until the hold runs out. A re-created slot's name moves to a new address;
  // with a hold, the edge kept sending its checks and requests to the deleted container's for that long
  // (seen in the Incus tier: the preview of a colour whose slots were just re-created answered 503 for 30 s).
  return [
    `resolvers ${RESOLVERS}`,
    '  parse-resolv-conf',
    '  resolve_retries 3',
    '  timeout resolve 1s',
    '  timeout retry 1s',
    '  hold valid 10s',
    '  hold obsolete 0s',
  ];
}

function frontendSection(m: EdgeModel): string[] {
  const lines = ['frontend edge'];
  const httpBinds = m.http.addresses.length ? m.http.addresses.map((a) => `${a}:${m.http.port}`) : [`:${m.http.port}`];
  for (const b of httpBinds) lines.push(`  bind ${b}`);
  if (m.https) {
    const httpsBinds = m.https.addresses.length ? m.https.addresses.map((a) => `${a}:${m.https!.port}`) : [`:${m.https.port}`];
    for (const b of httpsBinds) lines.push(`  bind ${b} ssl crt ${m.https.certDir} alpn h2,http/1.1`);
  }

  if (m.acme) lines.push(`  acl acme_challenge path_beg ${ACME_PATH}`);
  for (const t of m.tenants) lines.push(`  acl host_${t.name} ${hostMatch(t.hosts)}`);
  for (const t of m.tenants) if (t.previewHosts) lines.push(`  acl preview_${t.name} ${hostMatch(t.previewHosts)}`);
  for (const s of m.sites) lines.push(`  acl site_${s.name} ${hostMatch(s.hosts)}`);
  const tlsHosts = [...m.tenants.filter((t) => t.tls).flatMap((t) => [...t.hosts, ...(t.previewHosts ?? [])]), ...m.sites.filter((s) => s.tls).flatMap((s) => s.hosts)].sort();
  if (m.https && tlsHosts.length) lines.push(`  acl tls_host ${hostMatch(tlsHosts)}`);
  for (const t of m.tenants) for (const r of t.routes) lines.push(...routeAcls(r));
  const tunnels = m.topology === 'multi-instance' ? m.tenants.flatMap((t) => t.pools.filter((p) => p.websocket).map((p) => ({ t, p }))) : [];
  if (tunnels.length) lines.push('  acl websocket hdr(upgrade) -m str -i websocket');

  if (m.https) {
    lines.push('  http-request set-header X-Forwarded-Proto https if { ssl_fc }', '  http-request set-header X-Forwarded-Proto http if !{ ssl_fc }');
    if (tlsHosts.length) lines.push(`  http-request redirect scheme https code 301 if !{ ssl_fc } tls_host${m.acme ? ' !acme_challenge' : ''}`);
  } else {
    lines.push('  http-request set-header X-Forwarded-Proto http');
  }

  if (m.acme) lines.push('  use_backend letsencrypt_backend if acme_challenge');
  for (const s of m.sites) lines.push(`  use_backend ${s.backend} if site_${s.name}`);
  for (const { t, p } of tunnels) lines.push(...tenantRules({ ...t, routes: t.routes.filter((r) => r.pool === p.name), defaultPool: t.defaultPool === p.name ? p.name : undefined }, labTunnelPoolName, ' websocket'));
  for (const t of m.tenants) lines.push(...tenantRules(t));
  lines.push('  default_backend default_503');
  return lines;
}

/** Host header without its port (veza.localhost:18080 matches veza.localhost), lower-cased by host_only. */
function hostMatch(hosts: string[]): string {
  return `req.hdr(host),host_only -m str ${hosts.join(' ')}`;
}

function routeAcls(r: EdgeRoute): string[] {
  const out: string[] = [];
  const acl = `route_${r.pool}`;
  const prefixes = r.prefixes.map((p) => p.replace(/\/+$/, ''));
  // `path_beg /api/v1` alone would also claim /api/v1x: match the exact path or the path under it.
  const exact = prefixes.filter((p) => p !== '');
  if (exact.length) out.push(`  acl ${acl} path ${exact.join(' ')}`);
  if (prefixes.length) out.push(`  acl ${acl} path_beg ${prefixes.map((p) => `${p}/`).join(' ')}`);
  if (r.suffixes.length) {
    out.push(`  acl ${acl}_suffix path_end ${r.suffixes.join(' ')}`);
    if (r.suffixUnder) out.push(`  acl ${acl}_under path_beg ${r.suffixUnder}`);
  }
  return out;
}

/** `pool` names the backend of a route's pool, `extra` ANDs one more condition to each rule (the lab's WebSocket upgrades). */
function tenantRules(t: EdgeTenant, pool: (name: string) => string = (p) => p, extra = ''): string[] {
  const rules = (host: string, backend: (pool: string) => string) => {
    const out: string[] = [];
    for (const r of t.routes) {
      const acl = `route_${r.pool}`;
      if (r.prefixes.length) out.push(`  use_backend ${backend(r.pool)} if ${host} ${acl}${extra}`);
      if (r.suffixes.length) out.push(`  use_backend ${backend(r.pool)} if ${host}${r.suffixUnder ? ` ${acl}_under` : ''} ${acl}_suffix${extra}`);
    }
    if (t.defaultPool) out.push(`  use_backend ${backend(t.defaultPool)} if ${host}${extra}`);
    return out;
  };
  return [...rules(`host_${t.name}`, pool), ...(t.previewHosts ? rules(`preview_${t.name}`, previewPoolName) : [])];
}

function siteBackend(s: EdgeSite): string[] {
  const lines = [`backend ${s.backend}`, `  # ${s.hosts.join(' ')} — outside the deploy pipeline`];
  if (s.server) lines.push(`  server ${s.name} ${s.server.host}:${s.server.port}${isIpv4(s.server.host) ? '' : ` ${DNS_SERVER}`}`);
  else lines.push(`  http-request return status 503 content-type "text/plain; charset=utf-8" string "${s.placeholder}"`);
  return lines;
}

function poolBackend(t: EdgeTenant, p: EdgePool, lab: boolean): string[] {
  const lines = [`backend ${p.name}`, `  # ${p.component}${p.preview ? ', preview: the inactive colour alone' : t.color ? `, active colour ${t.color}` : ''}`];
  if (p.balance === 'uri-hash') {
    // Consistent hashing keeps a track's segments on one instance and moves only its keys when one goes away.
    lines.push('  balance uri', '  hash-type consistent');
  } else {
    lines.push('  balance roundrobin');
  }
  if (p.cookie) lines.push(`  cookie ${p.cookie} insert indirect nocache httponly${p.secureCookie ? ' secure' : ''}`);
  lines.push('  option httpchk', `  http-check send meth GET uri ${p.health}`);
  // An inactivity timeout: a session that keeps talking is never cut by it.
  if (p.websocket || p.balance === 'uri-hash') lines.push('  timeout tunnel 1h');
  if (lab) lines.push(`  timeout check ${CHECK.labTimeoutS}s`);
  lines.push(...retries(lab));
  const dns = p.servers.some((s) => !isIpv4(s.host));
  // A preview server is down until its colour's slots come up, and a preview is looked at right after: re-check a down one every second.
  lines.push(`  default-server ${check()}${p.preview ? ' downinter 1s' : ''}${dns ? ` ${DNS_SERVER}` : ''}`);
  for (const s of p.servers) lines.push(serverLine(s));
  return lines;
}

/**
 * A server killed with a request in flight answers nothing: resend it, to another server (option redispatch),
 * instead of a 502 — but only a request that is safe to send twice (seed a9541f517b: every request 200 while
 * one instance dies).
 *
 * A lab instance stopped hard (its container gone, not a process killed) refuses nothing, it stops answering:
 * each failed check ran to its timeout, inter (5 s), and the edge took fall × (inter + 5 s) = 30 s to mark it
 * DOWN; and a request it held waited for an answer that never came (the Incus lab drill). So a lab pool
 * bounds a connect (and, in poolBackend, a check) at a second on the instances' own network, resends a
 * request left unanswered for 5 s, and reuses no idle connection, which may lead to an instance that is gone.
 */
function retries(lab: boolean): string[] {
  return [
    ...(lab ? [`  timeout connect ${CHECK.labTimeoutS}s`, `  timeout server ${LAB_SERVER_TIMEOUT_S}s`, '  http-reuse never'] : []),
    `  retry-on conn-failure empty-response${lab ? ' response-timeout' : ''}`,
    '  http-request disable-l7-retry unless METH_GET || METH_HEAD || METH_OPTIONS',
  ];
}

/**
 * The WebSocket upgrades of a lab pool (the frontend sends them here): the
 * same servers, each tracking its twin's check, with on-marked-down
 * shutdown-sessions — an instance marked DOWN has its tunnels closed at once,
 * and their clients reconnect, with their cookie, to a survivor. The checked
 * pool itself has no shutdown-sessions: it would cut the plain requests still
 * waiting on the lost instance at that moment instead of letting them be
 * resent (two hang-ups per Incus drill, one per client, at the DOWN).
 */
function labTunnelBackend(p: EdgePool): string[] {
  const dns = p.servers.some((s) => !isIpv4(s.host));
  return [
    `backend ${labTunnelPoolName(p.name)}`,
    `  # ${p.component}, WebSocket upgrades: servers track ${p.name}'s checks`,
    '  balance roundrobin',
    ...(p.cookie ? [`  cookie ${p.cookie} insert indirect nocache httponly${p.secureCookie ? ' secure' : ''}`] : []),
    '  timeout tunnel 1h',
    ...retries(true),
    `  default-server on-marked-down shutdown-sessions slowstart ${CHECK.slowstartS}s${dns ? ` ${DNS_SERVER}` : ''}`,
    ...p.servers.map((s) => `${serverLine(s)} track ${p.name}/${s.name}`),
  ];
}

export function labTunnelPoolName(pool: string): string {
  return `${pool}_ws`;
}

function serverLine(s: EdgeServer): string {
  const parts = [`  server ${s.name} ${s.host}:${s.port}`];
  if (s.backup) parts.push('backup');
  if (s.cookie) parts.push(`cookie ${s.cookie}`);
  if (s.disabled) parts.push('disabled');
  return parts.join(' ');
}

function needsResolvers(m: EdgeModel): boolean {
  return m.tenants.some((t) => t.pools.some((p) => p.servers.some((s) => !isIpv4(s.host)))) || m.sites.some((s) => s.server && !isIpv4(s.server.host));
}

export function isIpv4(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
}
