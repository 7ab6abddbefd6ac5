import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import type { EdgeDefinition } from '../config/edge';
import type { Command } from '../ports/process';
import type { EdgeModel } from './model';
import { renderTimerUnits, type TimerUnits } from '../util/systemd';

/**
 * The pure half of infra-edge:certificates: which hosts need a certificate,
 * what is due, the ACME client's command line, and the metrics text. The
 * side effects (the client run, the Runtime API, files) live in
 * certificates.ts.
 *
 * The client is Debian's `lego`, not dehydrated as in seed 4b1a401879: one
 * static binary with no shell, curl or openssl pipeline behind it, one order
 * per invocation with a plain exit code (so one host's failure is its own),
 * the HTTP-01 token written into a webroot the edge's responder serves, and
 * an extra CA for a test directory such as Pebble taken from
 * LEGO_CA_CERTIFICATES instead of a patched curl configuration.
 */

export const DAY_MS = 86_400_000;

export interface AcmeSettings {
  directory: string;
  email: string;
  renewDays: number;
  /** Absolute (variables expanded). */
  stateDir: string;
  caBundle?: string;
  responder: { host: string; port: number };
  certDir: string;
}

export function acmeSettings(def: EdgeDefinition, model: EdgeModel, vars: Readonly<Record<string, string>>): AcmeSettings | undefined {
  if (!def.acme || !model.https || !model.acme) return undefined;
  const expand = (s: string) => s.replace(/\$\{([A-Z_]+)\}/g, (_, v: string) => vars[v] ?? '');
  return {
    directory: def.acme.directory,
    email: def.acme.email,
    renewDays: def.acme.renewDays,
    stateDir: expand(def.acme.stateDir),
    caBundle: def.acme.caBundle ? expand(def.acme.caBundle) : undefined,
    responder: model.acme,
    certDir: model.https.certDir,
  };
}

/** Every host the edge redirects to HTTPS: its environments' public hosts and its TLS sites', each once, sorted. */
export function certificateHosts(model: EdgeModel): string[] {
  if (!model.https) return [];
  const hosts = [...model.tenants.filter((t) => t.tls).flatMap((t) => t.hosts), ...model.sites.filter((s) => s.tls).flatMap((s) => s.hosts)];
  return [...new Set(hosts)].sort();
}

/** Where lego keeps its account and orders, and the challenge files the responder serves. */
export function acmePaths(stateDir: string) {
  const lego = join(stateDir, 'lego');
  const webroot = join(stateDir, 'webroot');
  return {
    lego,
    webroot,
    challenges: join(webroot, '.well-known', 'acme-challenge'),
    crt: (host: string) => join(lego, 'certificates', `${host}.crt`),
    key: (host: string) => join(lego, 'certificates', `${host}.key`),
  };
}

/** The served PEM of a host: `<certDir><host>.pem`, which HAProxy's SNI directory loads at start and the Runtime API names it by. */
export function servedPemPath(certDir: string, host: string): string {
  return `${certDir}${host}.pem`;
}

/** One order for one host: `lego run` registers the account on first use and always obtains a fresh certificate. */
export function legoRunCommand(s: AcmeSettings, host: string, lego = 'lego'): Command {
  const paths = acmePaths(s.stateDir);
  return {
    argv: [lego, '--server', s.directory, '--email', s.email, '--accept-tos', '--path', paths.lego, '--key-type', 'ec256',
      '--http', '--http.webroot', paths.webroot, '--domains', host, 'run'],
    env: s.caBundle ? { LEGO_CA_CERTIFICATES: s.caBundle } : undefined,
    timeoutMs: 300_000,
    description: `order a certificate for ${host} from ${s.directory}`,
  };
}

export type CertAction = 'issue' | 'renew' | 'keep';

export interface CertState {
  host: string;
  /** The served certificate's expiry, if a valid one for this host is served. */
  notAfter?: Date;
}

export interface PlannedCert extends CertState {
  action: CertAction;
  daysLeft?: number;
  why: string;
}

export function planCertificates(states: CertState[], now: Date, renewDays: number, force: boolean): PlannedCert[] {
  return states.map((s) => {
    if (!s.notAfter) return { ...s, action: 'issue', why: 'no certificate for this host yet' };
    const daysLeft = (s.notAfter.getTime() - now.getTime()) / DAY_MS;
    const left = `${daysLeft.toFixed(1)} days left`;
    if (force) return { ...s, daysLeft, action: 'renew', why: `forced (${left})` };
    if (daysLeft <= renewDays) return { ...s, daysLeft, action: 'renew', why: `${left}, within ${renewDays}` };
    return { ...s, daysLeft, action: 'keep', why: left };
  });
}

/** The expiry of a PEM's first certificate when it is valid for `host`; undefined for anything else (a placeholder, garbage, another host's). */
export function pemExpiryFor(pem: string, host: string): Date | undefined {
  const cert = firstCertificate(pem);
  return cert?.checkHost(host) ? new Date(cert.validTo) : undefined;
}

/** The serial of the PEM's first certificate (the leaf), as normalizeSerial writes it; undefined when it holds none. */
export function pemSerial(pem: string): string | undefined {
  const cert = firstCertificate(pem);
  return cert ? normalizeSerial(cert.serialNumber) : undefined;
}

/** Upper-case hex without leading zeros: Node and HAProxy's `show ssl cert` write one serial differently. */
export function normalizeSerial(hex: string): string {
  return hex.replace(/[^0-9a-f]/gi, '').toUpperCase().replace(/^0+(?=.)/, '');
}

function firstCertificate(pem: string): X509Certificate | undefined {
  const first = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (!first) return undefined;
  try {
    return new X509Certificate(first);
  } catch {
    return undefined;
  }
}

/** What the metrics remember of each host's last attempt, carried across runs in the edge's state. */
export interface CertAttempts {
  schema: 1;
  hosts: Record<string, { ok: boolean; lastSuccessSeconds?: number; lastFailureSeconds?: number }>;
}

export function recordAttempt(prev: CertAttempts, host: string, ok: boolean, at: Date): CertAttempts {
  const was = prev.hosts[host] ?? { ok };
  const seconds = at.getTime() / 1000;
  return { schema: 1, hosts: { ...prev.hosts, [host]: { ...was, ok, ...(ok ? { lastSuccessSeconds: seconds } : { lastFailureSeconds: seconds }) } } };
}

/**
 * node_exporter textfile format. Expiry is the certificate's notAfter as a
 * timestamp, not a "days left" gauge: the file is written once a day, so a
 * countdown would be up to a day stale, while `(notAfter - time()) / 86400`
 * is the days to expiry at query time (and seconds are Prometheus' base
 * unit; promtool refuses a days metric). The last attempt's outcome comes
 * with the time of the last success and of the last failure, so "renewal
 * has been failing for 3 days" is one expression.
 */
export function renderCertMetrics(edge: string, expiry: { host: string; notAfter?: Date }[], attempts: CertAttempts): string {
  const label = (host: string) => `{edge="${edge}",host="${host}"}`;
  const families: [string, string, string[]][] = [
    ['veza_certificate_not_after_timestamp_seconds', 'When the certificate the edge serves for a host expires; days to expiry: (this - time()) / 86400.',
      expiry.filter((e) => e.notAfter).map((e) => `${label(e.host)} ${e.notAfter!.getTime() / 1000}`)],
    ['veza_certificate_renewal_success', 'Whether the last issuance or renewal of a host succeeded (1) or failed (0).',
      Object.entries(attempts.hosts).map(([h, a]) => `${label(h)} ${a.ok ? 1 : 0}`)],
    ['veza_certificate_renewal_last_success_timestamp_seconds', 'When a certificate was last issued or renewed for a host.',
      Object.entries(attempts.hosts).filter(([, a]) => a.lastSuccessSeconds !== undefined).map(([h, a]) => `${label(h)} ${a.lastSuccessSeconds}`)],
    ['veza_certificate_renewal_last_failure_timestamp_seconds', 'When an issuance or renewal last failed for a host.',
      Object.entries(attempts.hosts).filter(([, a]) => a.lastFailureSeconds !== undefined).map(([h, a]) => `${label(h)} ${a.lastFailureSeconds}`)],
  ];
  return families.flatMap(([name, help, samples]) => [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, ...samples.sort().map((s) => `${name}${s}`)]).join('\n') + '\n';
}

/**
 * The daily job (systemd): the certificates target from this checkout.
 * RandomizedDelaySec spreads the run over the day's first hours, as ACME
 * CAs ask of clients.
 */
export function renderCertificateUnits(o: { edge: string; workspaceRoot: string; npx: string }): TimerUnits {
  return renderTimerUnits({
    name: `veza-certificates-${o.edge}`,
    description: `Issue and renew the TLS certificates of the ${o.edge} edge (ACME HTTP-01)`,
    timerDescription: `Daily certificate renewal for the ${o.edge} edge`,
    workingDirectory: o.workspaceRoot,
    execStart: `${o.npx} nx run infra-edge:certificates --edge=${o.edge}`,
    onCalendar: 'daily',
    randomizedDelay: '4h',
    network: true,
  });
}
