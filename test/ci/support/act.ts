import { execFile, execFileSync } from 'node:child_process';
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { copyRepository, type RepoCopy } from '../../e2e/support/copy';
import { stopEverything } from '../../e2e/support/workspace';
import { WORKSPACE_ROOT } from '../../support/entry-process';
import { ONE_HOST_VAR } from '../../../tools/scripts/resolve-release';

const run = promisify(execFile);

/** The act that setup.sh built (tools/scripts/act-tool.sh), or undefined when it has not: this builds nothing. */
export function builtAct(): string | undefined {
  try {
    return join(execFileSync('bash', ['tools/scripts/act-tool.sh', '--built'], { cwd: WORKSPACE_ROOT, encoding: 'utf8' }).trim(), 'act');
  } catch {
    return undefined;
  }
}

/** Fake values for every secret the workflow names: the test greps every log for them. */
export const fakeSecret = (name: string) => `fake-${name.toLowerCase().replace(/_/g, '-')}-5c1d7e`;

/** The compilers and bundlers the deploy job must never run. */
const TOOLCHAIN = ['go', 'cargo', 'rustc', 'vite'];

export interface ActRepo {
  repo: RepoCopy;
  /** The `file:` registry staging and prod share, outside every job workspace. */
  registry: string;
  /** The workflow act runs: the generated one with its `uses:` in act's short form (see rewriteForAct). */
  workflow: string;
  secrets: string[];
  /** A job's work folder, kept between runs (see actions/checkout). */
  workFolder(job: string): string;
  /** Runs one event through the workflow; resolves whatever act's exit code. */
  act(event: ActEvent): Promise<ActRun>;
}

export type ActEvent =
  | { kind: 'push-main' }
  | { kind: 'tag'; tag: string }
  | { kind: 'dispatch'; env: string; releaseSha: string };

export interface ActRun {
  code: number;
  /** act's own output: every job's steps and their output. */
  output: string;
  /** Each toolchain program a job ran, as `job program`: from PATH shims and from sampling /proc for the job's processes. */
  toolchain: string[];
  /** Text of every uploaded artifact file (the deploy logs). */
  artifacts: string;
  seconds: number;
}

/**
 * nektos/act takes only `{org}/{repo}@ref` in `uses:`, not the full URLs the
 * Forgejo workflow names (forgejo-runner's fork of act takes both): the only
 * change made to the generated workflow. The stand-ins in ./actions answer for them.
 */
export function rewriteForAct(workflow: string): string {
  return workflow.replace(/^(\s*uses: )https:\/\/[^/\s]+\//gm, '$1');
}

const ENV_FILE = (name: string, subnet: string, port: number, registry: string) => `# ${name}-like environment of the CI runner test: the local driver, a file: registry shared by act's jobs.
name: ${name}
driver: local
prefix: veza-${name}-
publicHosts: [${name}.veza.localhost]
publicUrl: http://${name}.veza.localhost:${port}
edge: local-edge
registry:
  url: file:${registry}
  owner: veza
local:
  subnet: ${subnet}
health:
  timeoutMs: 30000
  intervalMs: 100
verify:
  retries: 20
  intervalMs: 250
`;

/** Loopback subnets (127.x.y) of the copy's edge (its `local` environment's subnet, .1) and of staging and prod, and the edge's port. */
export interface ActAddresses {
  edge: string;
  staging: string;
  prod: string;
  port: number;
}

/**
 * A copy of this repository whose `staging` and `prod` are local-driver
 * environments on their own loopback addresses with one `file:` registry
 * outside every job workspace, committed on `main`; act runs the generated
 * workflow against it with every runs-on label mapped to this host.
 */
export async function actRepository(t: { after(fn: () => unknown): void }, actBin: string, at: ActAddresses): Promise<ActRepo> {
  const repo = await copyRepository(t, { subnet: at.edge, port: at.port });
  // Outside git (and so outside every job's checkout), removed with the copy.
  const work = join(repo.dir, '.veza-act');
  const registry = join(work, 'registry');
  await fs.mkdir(registry, { recursive: true });
  await fs.appendFile(join(repo.dir, '.git/info/exclude'), '.veza-act\n');
  await fs.writeFile(join(repo.dir, 'infra/environments/staging.yaml'), ENV_FILE('staging', at.staging, at.port, registry));
  await fs.writeFile(join(repo.dir, 'infra/environments/prod.yaml'), ENV_FILE('prod', at.prod, at.port, registry));
  await run('git', ['branch', '-M', 'main'], { cwd: repo.dir });
  await repo.commit('ci runner test: staging and prod on the local driver');

  const text = rewriteForAct(await fs.readFile(join(repo.dir, '.forgejo/workflows/deploy.yml'), 'utf8'));
  const workflow = join(work, 'deploy.yml');
  await fs.writeFile(workflow, text);
  const secrets = [...new Set([...text.matchAll(/\$\{\{ secrets\.([A-Z0-9_]+) \}\}/g)].map((m) => m[1]!))].sort();
  const secretFile = join(work, 'secrets.env');
  await fs.writeFile(secretFile, secrets.map((s) => `${s}=${fakeSecret(s)}\n`).join(''), { mode: 0o600 });
  const shims = await toolchainShims(join(work, 'shims'));

  // The jobs' persistent work folders (see actions/checkout) and act's own; the engine's unix sockets
  // under them must fit 108 bytes, so a short root, which the data tier's postgres user must traverse.
  const root = await fs.mkdtemp('/tmp/veza-act-');
  await fs.chmod(root, 0o755);
  const runner = join(root, 'w');
  const actCache = join(root, 'act');
  await fs.mkdir(runner);
  repo.defer(() => fs.rm(root, { recursive: true, force: true }));
  // Deferred after the folder's removal, so run before it: the deploy job's checkout holds the state of what it started.
  repo.defer(async () => {
    const deployJob = join(runner, 'deploy');
    if (!(await fs.stat(deployJob).catch(() => undefined))) return;
    for (const env of ['staging', 'prod']) await stopEverything(deployJob, env);
  });

  let runs = 0;
  const act = async (event: ActEvent): Promise<ActRun> => {
    const dir = join(work, `run-${++runs}`);
    const artifacts = join(dir, 'artifacts');
    await fs.mkdir(artifacts, { recursive: true });
    const calls = join(dir, 'toolchain-calls');
    await fs.writeFile(calls, '');
    const { name, payload, args } = eventArgs(event, await repo.head());
    await fs.writeFile(join(dir, 'event.json'), JSON.stringify(payload));
    const actions = join(WORKSPACE_ROOT, 'test/ci/support/actions');
    const argv = [
      name, '-W', workflow, '-e', join(dir, 'event.json'), ...args,
      // Every label to this host: act's -self-hosted platform runs steps as host processes.
      '-P', 'ubuntu-latest=-self-hosted', '-P', 'self-hosted=-self-hosted', '-P', 'incus=-self-hosted',
      '--secret-file', secretFile, '--no-skip-checkout', '--no-cache-server', '--action-cache-path', actCache,
      '--local-repository', `actions/checkout@v4=${actions}/checkout`,
      '--local-repository', `actions/setup-node@v4=${actions}/setup-node`,
      '--local-repository', `forgejo/upload-artifact@v4=${actions}/upload-artifact`,
    ];
    const env: NodeJS.ProcessEnv = {
      ...process.env, PATH: `${shims}:${process.env.PATH}`, [ONE_HOST_VAR]: '1',
      VEZA_ACT_ORIGIN: repo.dir, VEZA_ACT_RUNNER: runner, VEZA_ACT_ARTIFACTS: artifacts, VEZA_ACT_CALLS: calls,
    };
    for (const k of ['VEZA_RELEASE_SHA', 'NODE_TEST_CONTEXT', 'VEZA_TEST_TIER', 'NX_CACHE_DIRECTORY']) delete env[k];
    const sampler = sampleJobProcesses();
    const started = process.hrtime.bigint();
    const r = await run(actBin, argv, { cwd: repo.dir, env, maxBuffer: 512 * 1024 * 1024, timeout: 40 * 60_000 })
      .then((ok) => ({ ...ok, code: 0 }), (e: { stdout: string; stderr: string; code: number }) => e);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const sampled = sampler.stop();
    const shimmed = (await fs.readFile(calls, 'utf8')).split('\n').filter(Boolean);
    const output = `${r.stdout}\n${r.stderr}`;
    await fs.writeFile(join(dir, 'act.log'), output);
    return { code: typeof r.code === 'number' ? r.code : 1, output, toolchain: [...new Set([...shimmed, ...sampled])], artifacts: await readTree(artifacts), seconds };
  };
  return { repo, registry, workflow, secrets, workFolder: (job) => join(runner, job), act };
}

function eventArgs(event: ActEvent, head: string): { name: string; payload: unknown; args: string[] } {
  switch (event.kind) {
    case 'push-main':
      return { name: 'push', payload: { ref: 'refs/heads/main', after: head }, args: [] };
    case 'tag':
      return { name: 'push', payload: { ref: `refs/tags/${event.tag}`, after: head }, args: [] };
    case 'dispatch':
      return {
        name: 'workflow_dispatch',
        payload: { ref: 'refs/heads/main', inputs: { env: event.env, release_sha: event.releaseSha } },
        args: ['--input', `env=${event.env}`, '--input', `release_sha=${event.releaseSha}`],
      };
  }
}

/**
 * One shim per toolchain program, first on PATH: it records `$GITHUB_JOB
 * program` and runs the real one. bash, not sh: cargo gives rustc variables
 * whose names are not shell names (CARGO_BIN_EXE_veza-stream), which dash drops.
 */
async function toolchainShims(dir: string): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  for (const tool of TOOLCHAIN) {
    const real = await run('bash', ['-c', `command -v ${tool} || true`]).then((r) => r.stdout.trim());
    const exec = real ? `exec ${real} "$@"` : `echo "${tool}: not installed" >&2; exit 127`;
    await fs.writeFile(join(dir, tool), `#!/bin/bash\necho "\${GITHUB_JOB:-?} ${tool}" >> "$VEZA_ACT_CALLS"\n${exec}\n`, { mode: 0o755 });
  }
  return dir;
}

/**
 * Reads /proc four times a second for processes of an act job (GITHUB_JOB in
 * their environment) whose program is a toolchain's, including one started
 * by absolute path or as a node script (node_modules/.bin/vite), which the
 * PATH shims cannot see.
 */
function sampleJobProcesses(): { stop(): string[] } {
  const seen = new Set<string>();
  const timer = setInterval(() => {
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        const environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
        const job = /(?:^|\0)GITHUB_JOB=([^\0]*)/.exec(environ)?.[1];
        if (!job) continue;
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
        const programs = argv.slice(0, 2).map((a) => a.split('/').pop()!.replace(/\.m?js$/, ''));
        const tool = TOOLCHAIN.find((tl) => programs.includes(tl));
        if (tool) seen.add(`${job} ${tool}`);
      } catch {
        // gone already, or not ours to read
      }
    }
  }, 250);
  return {
    stop() {
      clearInterval(timer);
      return [...seen];
    },
  };
}

async function readTree(dir: string): Promise<string> {
  const texts: string[] = [];
  for (const e of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) texts.push(await fs.readFile(join(e.parentPath, e.name), 'utf8'));
  }
  return texts.join('\n');
}

/** Go's time.Duration text (1m38.5s, 523.1ms, 2.1s) in seconds. */
function goDuration(text: string): number {
  const unit: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 1e-3, 'µs': 1e-6, us: 1e-6, ns: 1e-9 };
  return [...text.matchAll(/([\d.]+)(h|ms|m|s|µs|us|ns)/g)].reduce((sum, m) => sum + Number(m[1]) * unit[m[2]!]!, 0);
}

/** Each job's time, summed from act's per-step timings (`[workflow/job] ✅  Success - Main step [1.2s]`), by job name. */
export function jobSeconds(output: string): Record<string, number> {
  const jobs: Record<string, number> = {};
  for (const m of output.matchAll(/^\[[^/\]]+\/([^\]]+)\]\s+\S+\s+(?:Success|Failure) - (?:Pre|Main|Post) .* \[([^\]]+)\]$/gm)) {
    const job = m[1]!.trimEnd(); // act pads the names to the longest
    jobs[job] = (jobs[job] ?? 0) + goDuration(m[2]!);
  }
  return jobs;
}
