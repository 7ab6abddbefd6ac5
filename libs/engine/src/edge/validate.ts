import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VezaError } from '../log/errors';
import type { ProcessRunner } from '../ports/process';

/**
 * Proves a config with the real `haproxy -c`, in zero-warning mode (-dW), so
 * a renderer slip that HAProxy merely warns about fails too. Files the config
 * references but this machine lacks (the edge's TLS certificates in CI, map
 * files) are replaced, in a copy, by throwaway ones — the check still runs on
 * every directive instead of being skipped.
 */
export interface ValidateOptions {
  runner: ProcessRunner;
  /** Variables the config expands, e.g. VEZA_EDGE_DIR. */
  vars?: Record<string, string>;
  /** What messages call the file (its real path), instead of the temp copy. */
  label?: string;
  haproxy?: string;
}

export interface Substitution {
  kind: 'cert-dir' | 'cert-file' | 'file';
  /** As written in the config. */
  original: string;
  replacement: string;
}

export interface ValidationResult {
  /** Throwaway stand-ins used, for the log. */
  substitutions: Substitution[];
}

export async function validateHaproxyConfig(text: string, opts: ValidateOptions): Promise<ValidationResult> {
  const label = opts.label ?? 'haproxy.cfg';
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-edge-validate-'));
  try {
    const { text: copy, substitutions } = await prepareCopy(text, dir, opts.vars ?? {});
    for (const s of substitutions) await createStandIn(s, opts.runner);
    const file = join(dir, 'haproxy.cfg');
    await fs.writeFile(file, copy);
    const res = await opts.runner.run(
      { argv: [opts.haproxy ?? 'haproxy', '-dW', '-c', '-f', file], env: opts.vars, timeoutMs: 30_000, description: `validate ${label} with haproxy -c` },
      { check: false },
    );
    if (res.exitCode !== 0) {
      const lines = (res.stderr + '\n' + res.stdout).split('\n')
        .filter((l) => /\[(ALERT|WARNING)\]/.test(l))
        .map((l) => l.replace(/^\[(ALERT|WARNING)\]\s+\(\d+\)\s*:\s*/, '$1: ').split(file).join(label).trim());
      throw new VezaError(
        `haproxy -c rejected ${label}: ${lines.join(' | ') || `exit ${res.exitCode}`}`,
        'fix the edge definition, environment or renderer named above; nothing on the edge was changed',
        'EDGE_CONFIG_INVALID',
      );
    }
    return { substitutions };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * The copy haproxy -c reads: missing referenced files point into `dir`, and
 * slot names are not resolved (they exist only in the edge's own DNS; looking
 * them up here would only query this machine's resolver).
 */
export async function prepareCopy(text: string, dir: string, vars: Record<string, string>): Promise<{ text: string; substitutions: Substitution[] }> {
  const substitutions: Substitution[] = [];
  const seen = new Map<string, string>();
  const standIn = async (original: string, kind: Substitution['kind']): Promise<string> => {
    const known = seen.get(original);
    if (known) return known;
    const path = expand(original, vars);
    let replacement = original;
    if (!(await exists(path))) {
      replacement = join(dir, `standin-${substitutions.length}${kind === 'cert-dir' ? '/' : kind === 'cert-file' ? '.pem' : ''}`);
      substitutions.push({ kind, original, replacement });
    }
    seen.set(original, replacement);
    return replacement;
  };

  const out: string[] = [];
  for (const line of text.split('\n')) {
    let l = line.replace(/\binit-addr libc,none\b/, 'init-addr none');
    const words = l.trim().split(/\s+/);
    if (words[0] === 'bind' || words[0] === 'server' || words[0] === 'default-server') {
      for (let i = 1; i < words.length - 1; i++) {
        const key = words[i];
        if (key === 'crt') words[i + 1] = await standIn(words[i + 1]!, words[i + 1]!.endsWith('/') ? 'cert-dir' : 'cert-file');
        else if (key === 'crt-list' || key === 'ca-file') words[i + 1] = await standIn(words[i + 1]!, 'file');
      }
      l = `${leading(l)}${words.join(' ')}`;
    }
    // Pattern files of ACLs (`-f <file>`) and map converters (`map(<file>)`, `map_str(<file>,…)`).
    for (const m of [...l.matchAll(/\s-f\s+(\S+)/g), ...l.matchAll(/\bmap(?:_[a-z]+)?\(([^,)\s]+)/g)]) {
      l = l.split(m[1]!).join(await standIn(m[1]!, 'file'));
    }
    out.push(l);
  }
  return { text: out.join('\n'), substitutions };
}

async function createStandIn(s: Substitution, runner: ProcessRunner): Promise<void> {
  if (s.kind === 'file') {
    await fs.writeFile(s.replacement, '');
    return;
  }
  const pem = s.kind === 'cert-dir' ? join(s.replacement, 'throwaway.pem') : s.replacement;
  if (s.kind === 'cert-dir') await fs.mkdir(s.replacement, { recursive: true });
  await fs.writeFile(pem, await selfSignedPem(runner, 'veza-edge-validate', 2), { mode: 0o600 });
}

/**
 * A self-signed certificate and its key as one PEM, the way HAProxy loads
 * them: for haproxy -c's stand-ins, and the edge's default certificate
 * before any host has a real one (HAProxy refuses an empty SNI directory).
 */
export async function selfSignedPem(runner: ProcessRunner, commonName: string, days: number): Promise<string> {
  const dir = await fs.mkdtemp(join(tmpdir(), 'veza-selfsigned-'));
  try {
    const [key, crt] = [join(dir, 'key.pem'), join(dir, 'crt.pem')];
    await runner.run({
      argv: ['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', key, '-out', crt, '-days', String(days), '-subj', `/CN=${commonName}`],
      timeoutMs: 30_000,
      description: `create the self-signed certificate ${commonName}`,
    });
    return Buffer.concat([await fs.readFile(crt), await fs.readFile(key)]).toString('utf8');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

function expand(s: string, vars: Record<string, string>): string {
  return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => vars[name] ?? process.env[name] ?? '');
}

function leading(line: string): string {
  return /^\s*/.exec(line)![0];
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.stat(path);
    return true;
  } catch {
    return false;
  }
}
