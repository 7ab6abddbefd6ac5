import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unpackArtifact } from '../artifact/unpack';
import type { RuntimeDeclaration } from '../config/component';
import { isVezaError } from '../log/errors';
import { redact } from '../log/redact';
import { formatArgv } from '../ports/process';
import type { Context } from './context';

/**
 * The migrations a release would apply, per component that declares them:
 * the release's own status command (`migrate_tool --status`), run from its
 * unpacked artifact against the environment's live database. It runs on
 * the deployer's machine, so it needs a route to the database (local: the
 * loopback PostgreSQL; Incus: the host's bridge). Reads only, and never
 * fails: an unreachable or unprovisioned database, a release without a
 * status command or a tool that errs make the answer `unknown`, with why.
 */
export interface PendingMigrations {
  component: string;
  /** What the status command lists as pending, in its order; absent when unknown. */
  pending?: string[];
  /** Why the pending migrations could not be read. */
  unknown?: string;
}

/** A file holding a release artifact's verified bytes. */
export interface ArtifactFile {
  path: string;
  sha256: string;
}

/** migrate_tool --status connects with a 10 s timeout; room for that and the query. */
const STATUS_TIMEOUT_MS = 20_000;
/** What the status command gets of the deployer's environment: no secret but DATABASE_URL. */
const INHERITED_VARS = ['PATH', 'HOME', 'LANG', 'TZ'];

export async function pendingMigrations(ctx: Context, declarations: readonly RuntimeDeclaration[], artifactOf: (component: string) => Promise<ArtifactFile>): Promise<PendingMigrations[]> {
  const migrating = declarations.filter((c) => c.migrations);
  if (migrating.length === 0) return [];
  const url = await ctx.ports.tier.databaseUrl().then((u) => ({ u }), (e: unknown) => ({ why: `the database of ${ctx.env.name}: ${reason(e)}` }));
  const out: PendingMigrations[] = [];
  for (const c of migrating) {
    const status = c.migrations!.status;
    if (!status) out.push({ component: c.name, unknown: `${c.name} declares no migrations.status command in this release` });
    else if ('why' in url) out.push({ component: c.name, unknown: url.why });
    else out.push(await readStatus(ctx, c.name, status, url.u, artifactOf));
  }
  return out;
}

async function readStatus(ctx: Context, component: string, argv: string[], databaseUrl: string, artifactOf: (component: string) => Promise<ArtifactFile>): Promise<PendingMigrations> {
  const dest = join(await fs.mkdtemp(join(tmpdir(), 'veza-migrations-')), 'app');
  try {
    const artifact = await artifactOf(component);
    await unpackArtifact({ file: artifact.path, sha256: artifact.sha256, dest });
    const env: Record<string, string> = { DATABASE_URL: databaseUrl };
    for (const v of INHERITED_VARS) if (ctx.processEnv[v] !== undefined) env[v] = ctx.processEnv[v]!;
    const res = await ctx.runner.run({ argv, cwd: dest, env, cleanEnv: true, timeoutMs: STATUS_TIMEOUT_MS, description: `list ${component}'s pending migrations` }, { check: false });
    if (res.exitCode !== 0) {
      const said = (res.stderr || res.stdout).trim().split('\n').pop();
      return { component, unknown: redact(`${formatArgv(argv)} exited ${res.exitCode}${said ? `: ${said}` : ''}`) };
    }
    return { component, pending: parsePending(res.stdout) };
  } catch (e) {
    return { component, unknown: redact(reason(e)) };
  } finally {
    await fs.rm(join(dest, '..'), { recursive: true, force: true });
  }
}

/** `pending  <name>` lines, as migrate_tool --status prints them; `applied …` lines are what is done already. */
export function parsePending(stdout: string): string[] {
  return stdout.split('\n').flatMap((l) => /^pending\s+(\S+)/.exec(l)?.[1] ?? []);
}

function reason(e: unknown): string {
  return isVezaError(e) || e instanceof Error ? e.message : String(e);
}

/** One line per component: `api migrations: 2 pending (0002_a.sql, 0003_b.sql)`, `none pending` or `unknown (why)`. */
export function describePending(m: PendingMigrations): string {
  const what = m.pending === undefined ? `unknown (${m.unknown})` : m.pending.length ? `${m.pending.length} pending (${m.pending.join(', ')})` : 'none pending';
  return `${m.component} migrations: ${what}`;
}
