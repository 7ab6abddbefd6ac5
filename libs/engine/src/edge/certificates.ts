import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Workspace } from '../config/workspace';
import { describeError, isVezaError, VezaError } from '../log/errors';
import type { Logger } from '../log/logger';
import { createProcessRunner, formatArgv, type ProcessRunner } from '../ports/process';
import { httpGet, serveDirectory } from '../util/http';
import {
  acmePaths, acmeSettings, certificateHosts, legoRunCommand, pemExpiryFor, pemSerial, planCertificates, recordAttempt, renderCertMetrics, servedPemPath,
  type AcmeSettings, type CertAttempts, type PlannedCert,
} from './acme';
import type { EdgeHost } from './edge-host';
import { buildEdgeModel, loadEdgeInputs } from './model';
import { openEdgeHost } from './open-host';
import { edgeLock, withLock } from '../state/lock';
import { runtimeErrors, servedSerial } from './runtime-api';
import { selfSignedPem } from './validate';

/**
 * infra-edge:certificates — issues or renews, over ACME HTTP-01, the
 * certificate of every host an edge serves over HTTPS. Each due host is its
 * own order: one whose DNS points elsewhere, or whose challenge fails, is
 * reported and leaves its served certificate as it was, while the others go
 * on. A new certificate reaches the running HAProxy through the Runtime API
 * (`set ssl cert` + `commit ssl cert`: no reload, no connection touched),
 * then is written atomically into the SNI directory for the next start.
 */
export interface CertificatesOptions {
  workspace: Workspace;
  edge?: string;
  env?: string;
  /** Renew every host now, whatever its expiry. */
  force?: boolean;
  dryRun?: boolean;
  log: Logger;
  host?: EdgeHost;
  runner?: ProcessRunner;
  now?: () => Date;
  lego?: string;
}

export interface CertOutcome {
  host: string;
  action: PlannedCert['action'];
  ok: boolean;
  error?: string;
}

export async function certificates(opts: CertificatesOptions): Promise<{ edge: string; outcomes: CertOutcome[] }> {
  const inputs = loadEdgeInputs(opts.workspace, opts.edge ?? opts.workspace.env(opts.env).edge);
  const def = inputs.def;
  const file = `infra/edges/${def.name}.yaml`;
  const model = buildEdgeModel(inputs);
  const host = opts.host ?? openEdgeHost(opts.workspace, def);
  const acme = acmeSettings(def, model, host.vars);
  if (!acme) throw new VezaError(`edge ${def.name} has no https and acme sections`, `add https: { certDir } and acme: { server, directory, email, stateDir } to ${file}`, 'BAD_CONFIG');
  const hosts = certificateHosts(model);
  if (!hosts.length) throw new VezaError(`edge ${def.name} serves no host over HTTPS`, `give an environment an https:// publicUrl, or a site tls: true, in ${file}`, 'BAD_CONFIG');
  const log = opts.log.child({ phase: 'certificates' });
  const now = opts.now ?? (() => new Date());
  const runner = opts.runner ?? createProcessRunner();

  const served = await Promise.all(hosts.map(async (h) => ({ host: h, notAfter: pemExpiryFor((await host.readFile(servedPemPath(acme.certDir, h))) ?? '', h) })));
  const plan = planCertificates(served, now(), acme.renewDays, Boolean(opts.force));
  for (const p of plan) log.info(`${p.host}: ${p.action} (${p.why})${p.action === 'keep' ? '' : `: ${formatArgv(legoRunCommand(acme, p.host, opts.lego).argv)}`}`);
  const due = plan.filter((p) => p.action !== 'keep');
  if (opts.dryRun || !due.length) {
    if (!due.length) log.info(`every certificate of ${def.name} has more than ${acme.renewDays} days left`);
    return { edge: def.name, outcomes: plan.map((p) => ({ host: p.host, action: p.action, ok: true })) };
  }

  const status = await host.status();
  if (!status.running) throw new VezaError(`the ${def.name} edge is not running (${status.detail})`, 'start it with nx run infra-edge:bootstrap; a certificate reaches HAProxy through its Runtime API', 'EDGE_NOT_RUNNING');
  // One run at a time per edge (the daily timer and an operator's run share lego's state), under a lock of
  // its own: orders take seconds to minutes, and must not hold up a switch, which takes the edge lock.
  const outcomes = await withLock(host.state, edgeLock(`${def.name.slice(0, 36)}-acme`), { action: 'certificates' }, async () => {
    const done: CertOutcome[] = plan.filter((p) => p.action === 'keep').map((p) => ({ host: p.host, action: p.action, ok: true }));
    try {
      await checkDirectory(acme);
    } catch (e) {
      await writeMetrics(host, def.name, acme, hosts, now(), due.map((p) => ({ host: p.host, action: p.action, ok: false })));
      throw e;
    }

    const paths = acmePaths(acme.stateDir);
    await fs.mkdir(paths.challenges, { recursive: true, mode: 0o755 });
    const responder = await serveDirectory(paths.challenges, acme.responder.host, acme.responder.port).catch((e: NodeJS.ErrnoException) => {
      throw new VezaError(`cannot serve ACME challenges on ${acme.responder.host}:${acme.responder.port}: ${e.code ?? e.message}`, `stop what listens there, or change acme.server in ${file}`, 'PORT_IN_USE');
    });
    try {
      for (const p of due) {
        const outcome = await orderOne(p, acme, host, runner, opts.lego);
        if (outcome.ok) log.info(`${p.host}: certificate ${p.action === 'issue' ? 'issued' : 'renewed'} and served without a reload`);
        else log.error(`${p.host}: ${outcome.error}; it keeps its current certificate`);
        done.push(outcome);
      }
    } finally {
      await responder.close();
    }
    await writeMetrics(host, def.name, acme, hosts, now(), done.filter((o) => o.action !== 'keep'));
    return done;
  }, { logger: log });

  const failed = outcomes.filter((o) => !o.ok);
  if (failed.length) {
    throw new VezaError(
      `certificates failed for ${failed.map((f) => `${f.host} (${f.error})`).join('; ')}`,
      `the other hosts were renewed; these keep serving their previous certificate. Check that their DNS points at this edge and that ${acme.responder.host}:${acme.responder.port} is reachable through /.well-known/acme-challenge/, then run again`,
      'ACME_FAILED',
    );
  }
  return { edge: def.name, outcomes: outcomes.sort((a, b) => a.host.localeCompare(b.host)) };
}

async function orderOne(p: PlannedCert, acme: AcmeSettings, host: EdgeHost, runner: ProcessRunner, lego?: string): Promise<CertOutcome> {
  const fail = (error: string): CertOutcome => ({ host: p.host, action: p.action, ok: false, error });
  const res = await runner.run(legoRunCommand(acme, p.host, lego), { check: false });
  if (res.exitCode !== 0) return fail(`the order failed: ${lastLines(res.stderr || res.stdout)}`);
  const paths = acmePaths(acme.stateDir);
  const pem = `${(await fs.readFile(paths.crt(p.host), 'utf8')).trim()}\n${(await fs.readFile(paths.key(p.host), 'utf8')).trim()}\n`;
  if (!pemExpiryFor(pem, p.host)) return fail('the CA returned a certificate that is not valid for this host');
  try {
    await installCertificate(host, servedPemPath(acme.certDir, p.host), acme.certDir, pem);
  } catch (e) {
    return fail(`HAProxy did not take the new certificate: ${describeError(e)}`);
  }
  return { host: p.host, action: p.action, ok: true };
}

/**
 * Hands a PEM to the running HAProxy and then to the disk. A host HAProxy
 * does not know yet gets an empty entry first and is added to the SNI
 * directory's list after the commit, so it is never served half-made.
 */
export async function installCertificate(host: EdgeHost, file: string, certDir: string, pem: string): Promise<void> {
  const known = (await host.runtime(['show ssl cert'])).split('\n').includes(file);
  const expect = async (out: Promise<string>, ok: RegExp, what: string) => {
    const text = await out;
    if (!ok.test(text)) throw new VezaError(`${what}: ${runtimeErrors(text).join(' ') || '(no answer)'}`, 'check the edge with show ssl cert on its Runtime API', 'EDGE_RUNTIME');
  };
  // A command whose answer was lost on the way back (an Incus edge under load) may have run: it counts as done
  // when HAProxy now holds the new certificate — `*<file>` is the open transaction, `<file>` the committed one.
  const serial = pemSerial(pem);
  const orHeld = async (step: Promise<void>, name: string) => {
    try {
      await step;
    } catch (e) {
      if (!(isVezaError(e) && e.code === 'EDGE_ANSWER_LOST' && serial && servedSerial(await host.runtime([`show ssl cert ${name}`])) === serial)) throw e;
    }
  };
  if (!known) await expect(host.runtime([`new ssl cert ${file}`]), /New empty certificate store/, `new ssl cert ${file}`);
  try {
    await orHeld(expect(host.runtimePayload(`set ssl cert ${file}`, pem), /Transaction (created|updated)/, `set ssl cert ${file}`), `*${file}`);
    await orHeld(expect(host.runtime([`commit ssl cert ${file}`]), /Success!/, `commit ssl cert ${file}`), file);
  } catch (e) {
    await host.runtime([`abort ssl cert ${file}`]).catch(() => '');
    throw e;
  }
  if (!known) await expect(host.runtime([`add ssl crt-list ${certDir.replace(/\/$/, '')} ${file}`]), /Success!/, `add ssl crt-list ${certDir}`);
  await host.writeFile(file, pem, 0o600);
}

/** The CA answers its directory before any order: when it is down, nothing is ordered and the edge keeps every certificate. */
async function checkDirectory(acme: AcmeSettings): Promise<void> {
  const url = new URL(acme.directory);
  const ca = acme.caBundle ? await fs.readFile(acme.caBundle, 'utf8') : undefined;
  let problem: string;
  try {
    const res = await httpGet({ host: url.hostname, port: Number(url.port || 443), path: `${url.pathname}${url.search}`, hostHeader: url.host, timeoutMs: 10_000, tls: { ca } });
    if (res.status === 200 && res.body.includes('newOrder')) return;
    problem = `it answered ${res.status} without an ACME directory`;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    problem = err.code ?? err.message;
  }
  throw new VezaError(`the ACME server ${acme.directory} is unreachable: ${problem}`, 'nothing was ordered and the edge keeps serving its current certificates; check the CA (or acme.directory) and run again', 'ACME_UNREACHABLE');
}

const metricsKeys = (edge: string) => ({ prom: `metrics/veza-certificates-${edge}.prom`, state: `metrics/veza-certificates-${edge}.json` });

async function writeMetrics(host: EdgeHost, edge: string, acme: AcmeSettings, hosts: string[], at: Date, attempted: CertOutcome[]): Promise<void> {
  const keys = metricsKeys(edge);
  const prevText = await host.state.read(keys.state);
  let attempts: CertAttempts = prevText ? (JSON.parse(prevText) as CertAttempts) : { schema: 1, hosts: {} };
  for (const o of attempted) attempts = recordAttempt(attempts, o.host, o.ok, at);
  const expiry = await Promise.all(hosts.map(async (h) => ({ host: h, notAfter: pemExpiryFor((await host.readFile(servedPemPath(acme.certDir, h))) ?? '', h) })));
  await host.state.write(keys.state, JSON.stringify(attempts, null, 2) + '\n');
  await host.state.write(keys.prom, renderCertMetrics(edge, expiry, attempts));
}

export function certificateMetricsKey(edge: string): string {
  return metricsKeys(edge).prom;
}

/**
 * HAProxy refuses to start on an empty SNI directory: until a host has its
 * certificate, a self-signed default stands in (and goes on answering names
 * no certificate covers). Loaded first, by its name, so it is the default.
 */
export async function ensureDefaultCertificate(host: EdgeHost, certDir: string, runner: ProcessRunner = createProcessRunner()): Promise<string | undefined> {
  const present = (await host.listDir(certDir)).filter((f) => f.endsWith('.pem'));
  if (present.length) return undefined;
  const file = join(certDir, DEFAULT_PEM);
  await host.writeFile(file, await selfSignedPem(runner, `${host.edge}-default`, 3650), 0o600);
  return file;
}

const DEFAULT_PEM = '0-default.pem';

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-2).join(' | ').slice(0, 400) || '(no output)';
}
