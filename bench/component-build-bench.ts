/**
 * Component build benchmark: `nx run <component>:package` for the Go API, the
 * Rust stream server and the React web app, and `nx run-many -t package`,
 * in a fresh copy of this repository with its own Nx cache, so nothing this
 * checkout built is reused. Per component:
 *
 *   cold      empty module/crate caches (fresh GOMODCACHE + GOCACHE, CARGO_HOME,
 *             cargo target dir), no Nx cache: test → build → package from nothing
 *   warm      nothing changed, all three tasks are Nx cache hits
 *   changed   one source file edited (a comment appended), module caches warm
 *
 * and the artifact's size. Wall time and peak RSS (the largest single
 * process, from /usr/bin/time -f %M) of each whole nx command; medians of
 * --runs runs (default 3: a shared 2-core machine). Asserts nothing; a run
 * that fails stops the bench with its output.
 *
 *   node -r @swc-node/register bench/component-build-bench.ts [--runs 3] [--only veza-api,…]
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { copyRepository } from '../test/e2e/support/copy';

const run = promisify(execFile);
const arg = (name: string, fallback: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1]! : fallback);
const RUNS = Number(arg('--runs', '3'));
const ALL = ['veza-api', 'veza-stream', 'veza-web'];
const ONLY = arg('--only', ALL.join(',')).split(',');
/** The file a developer would touch; appending a comment changes the hash and nothing else. */
const EDITS: Record<string, { file: string; comment: (n: number) => string }> = {
  'veza-api': { file: 'apps/veza-api/internal/contract/contract.go', comment: (n) => `\n// bench edit ${n}\n` },
  'veza-stream': { file: 'apps/veza-stream/src/hls.rs', comment: (n) => `\n// bench edit ${n}\n` },
  'veza-web': { file: 'apps/veza-web/ui/App.tsx', comment: (n) => `\n// bench edit ${n}\n` },
};

interface Sample {
  wallS: number;
  rssMiB: number;
  hits: string;
}

interface Row {
  what: string;
  samples: Sample[];
  note?: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

async function main(): Promise<void> {
  const cleanups: (() => unknown)[] = [];
  const rows: Row[] = [];
  const scratch = await fs.mkdtemp(join(tmpdir(), 'veza-build-bench-'));
  cleanups.push(() => removeAll(scratch));
  const started = `${new Date().toISOString()} load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`;
  try {
    const repo = await copyRepository({ after: (fn) => cleanups.push(fn) }, { subnet: '127.79.8', port: 18408 });
    let cacheSet = 0;
    /** Fresh, empty module and crate caches, as on a machine that never built these components. */
    const freshCaches = async () => {
      const dir = join(scratch, `caches-${++cacheSet}`);
      await fs.mkdir(join(dir, 'cargo-home'), { recursive: true });
      return { GOMODCACHE: join(dir, 'go-mod'), GOCACHE: join(dir, 'go-build'), CARGO_HOME: join(dir, 'cargo-home') };
    };
    const nx = async (args: string[], caches: Record<string, string>): Promise<Sample> => {
      const env: NodeJS.ProcessEnv = { ...process.env, ...caches, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: '1' };
      delete env.VEZA_RELEASE_SHA;
      const t0 = process.hrtime.bigint();
      const r = await run('/usr/bin/time', ['-f', 'veza-bench-rss-kib=%M', join(repo.dir, 'node_modules', '.bin', 'nx'), ...args], {
        cwd: repo.dir, env, maxBuffer: 256 * 1024 * 1024, timeout: 30 * 60_000,
      }).catch((e: { stdout: string; stderr: string }) => {
        throw new Error(`nx ${args.join(' ')} failed:\n${e.stdout}\n${e.stderr}`);
      });
      const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
      const out = `${r.stdout}\n${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
      const rssKiB = Number(/veza-bench-rss-kib=(\d+)/.exec(out)?.[1] ?? NaN);
      const hits = /for (\d+ out of \d+) tasks/.exec(out)?.[1] ?? '0 cached';
      process.stderr.write(`  nx ${args.join(' ')}: ${wallS.toFixed(1)} s, ${(rssKiB / 1024).toFixed(0)} MiB, cache ${hits}\n`);
      return { wallS, rssMiB: rssKiB / 1024, hits };
    };
    const clean = async (components: string[]) => {
      for (const c of components) {
        for (const d of ['build', 'artifacts', join('.cache', 'cargo')]) await fs.rm(join(repo.dir, 'dist', d, c), { recursive: true, force: true });
      }
    };

    for (const c of ONLY) {
      process.stderr.write(`${c}\n`);
      const cold: Sample[] = [];
      let caches: Record<string, string> = {};
      for (let i = 0; i < RUNS; i++) {
        caches = await freshCaches();
        await clean([c]);
        cold.push(await nx(['run', `${c}:package`, '--skip-nx-cache'], caches));
      }
      rows.push({ what: `${c}: cold (empty module cache)`, samples: cold });
      await nx(['run', `${c}:package`], caches); // fills the Nx cache; not counted
      const warm: Sample[] = [];
      for (let i = 0; i < RUNS; i++) warm.push(await nx(['run', `${c}:package`], caches));
      rows.push({ what: `${c}: warm, no change`, samples: warm });
      const changed: Sample[] = [];
      const edit = EDITS[c]!;
      for (let i = 0; i < RUNS; i++) {
        await fs.appendFile(join(repo.dir, edit.file), edit.comment(i));
        changed.push(await nx(['run', `${c}:package`], caches));
      }
      rows.push({ what: `${c}: one file changed (${edit.file.split('/').slice(2).join('/')})`, samples: changed });
      const artifact = (await fs.readdir(join(repo.dir, 'dist', 'artifacts', c))).find((f) => f.endsWith('.tar.zst'))!;
      const size = (await fs.stat(join(repo.dir, 'dist', 'artifacts', c, artifact))).size;
      rows.push({ what: `${c}: artifact size`, samples: [], note: `${(size / 1024 / 1024).toFixed(2)} MiB (${size} bytes)` });
      await run('git', ['checkout', '--', edit.file], { cwd: repo.dir });
    }

    process.stderr.write('run-many\n');
    const coldAll: Sample[] = [];
    let caches: Record<string, string> = {};
    for (let i = 0; i < RUNS; i++) {
      caches = await freshCaches();
      await clean(ALL);
      coldAll.push(await nx(['run-many', '-t', 'package', '--skip-nx-cache'], caches));
    }
    rows.push({ what: 'nx run-many -t package: cold', samples: coldAll });
    await nx(['run-many', '-t', 'package'], caches);
    const warmAll: Sample[] = [];
    for (let i = 0; i < RUNS; i++) warmAll.push(await nx(['run-many', '-t', 'package'], caches));
    rows.push({ what: 'nx run-many -t package: warm', samples: warmAll });
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
  report(rows, started);
}

async function removeAll(dir: string): Promise<void> {
  // Go makes its module cache read-only.
  await run('chmod', ['-R', 'u+w', dir]).catch(() => undefined);
  await fs.rm(dir, { recursive: true, force: true });
}

function report(rows: Row[], started: string): void {
  const fmt = (xs: number[], digits: number) => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
  const lines = [
    `started ${started}; ended ${new Date().toISOString()} load ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${RUNS} runs each`,
    '',
    '| | wall s, median (min–max) | peak RSS MiB, median (min–max) | Nx cache hits |',
    '|---|---|---|---|',
    ...rows.map((r) => r.samples.length
      ? `| ${r.what} | ${fmt(r.samples.map((s) => s.wallS), 1)} | ${fmt(r.samples.map((s) => s.rssMiB), 0)} | ${[...new Set(r.samples.map((s) => s.hits))].join(', ')} |`
      : `| ${r.what} | ${r.note} | | |`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((e: Error) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});
