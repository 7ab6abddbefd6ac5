/**
 * Pack benchmark: our `package` engine against `tar -cf - | zstd -3 -T0` on
 * the same generated tree, in the same run, interleaved; then our peak RSS
 * on a larger tree. Prints figures; asserts nothing (speed is not a test).
 *
 *   node -r @swc-node/register bench/pack-bench.ts [--size 256M] [--rss-size 1G] [--runs 5]
 *
 * Our pack runs in a child process (bench/pack-bench.child.ts) so its max RSS
 * is its own. The child is the engine bundled by esbuild and run by plain
 * node: the swc loader alone costs ~90 MiB of RSS before any packing, which
 * says nothing about the engine. One extra run under the loader is shown
 * for comparison.
 */
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';

const MiB = 1024 * 1024;

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)$/i.exec(s);
  if (!m) throw new Error(`bad size ${s}: use e.g. 256M or 1G`);
  return Math.round(Number(m[1]) * { '': 1, K: 1024, M: MiB, G: 1024 * MiB }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G']);
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

/** mulberry32: a seeded PRNG, so every run generates the same tree. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Source-code-like text: words from a fixed vocabulary, with punctuation and line breaks. */
function textCorpus(bytes: number, rand: () => number): Buffer {
  const letters = 'etaoinshrdlucmfwypvbgkqjxz_';
  const vocab = Array.from({ length: 4000 }, () => {
    let w = '';
    const len = 2 + Math.floor(rand() * 10);
    for (let i = 0; i < len; i++) w += letters[Math.floor(rand() ** 1.5 * letters.length)];
    return w;
  });
  const seps = [' ', ' ', ' ', '.', '(', ') ', ', ', ' = ', ';\n', '\n  ', ': ', '"'];
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    const w = vocab[Math.floor(rand() ** 2 * vocab.length)]! + seps[Math.floor(rand() * seps.length)]!;
    parts.push(w);
    n += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

/** Half the bytes text-like, half random; sizes log-uniform from 128 B to 2 MiB, in a two-level folder tree. */
function generateTree(dir: string, total: number, seed: number): { files: number } {
  const rand = prng(seed);
  const corpus = textCorpus(32 * MiB, rand);
  let written = 0;
  let files = 0;
  while (written < total) {
    const size = Math.min(total - written, Math.round(128 * Math.pow(16384, rand())));
    const text = files % 2 === 0;
    const sub = join(dir, `d${files % 16}`, `e${Math.floor(files / 16) % 8}`);
    mkdirSync(sub, { recursive: true });
    let data: Buffer;
    if (text) {
      const off = Math.floor(rand() * (corpus.length - size));
      data = corpus.subarray(off, off + size);
    } else {
      data = randomFillSync(Buffer.allocUnsafe(size));
    }
    writeFileSync(join(sub, `f${files}.${text ? 'txt' : 'bin'}`), data);
    written += size;
    files++;
  }
  return { files };
}

function run(argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} exited ${code}`))));
  });
}

interface Timing { ms: number; cpuMs: number; shaMs: number }

/** tar's stdout is handed to zstd as its stdin fd, so node is not in the data path; /usr/bin/time reports each side's CPU. */
async function theirs(src: string, out: string, work: string): Promise<Timing> {
  const cpuFiles = [join(work, 'tar.cpu'), join(work, 'zstd.cpu')];
  const timed = (i: number, argv: string[]) => ['-f', '%U %S', '-o', cpuFiles[i]!, ...argv];
  const exited = (p: ReturnType<typeof spawn>, what: string) =>
    new Promise<void>((resolve, reject) => p.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`${what} exited ${c}`)))));
  const t0 = process.hrtime.bigint();
  const tar = spawn('/usr/bin/time', timed(0, ['tar', '-cf', '-', '-C', src, '.']), { stdio: ['ignore', 'pipe', 'inherit'] });
  const zstd = spawn('/usr/bin/time', timed(1, ['zstd', '-3', '-T0', '-q', '-f', '-o', out, '-']), { stdio: [tar.stdout!, 'ignore', 'inherit'] });
  await Promise.all([exited(tar, 'tar'), exited(zstd, 'zstd')]);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  // Our pack also hashes what it writes; this is the same work done after the fact, timed apart.
  const s0 = process.hrtime.bigint();
  await run(['openssl', 'dgst', '-sha256', out]);
  const shaMs = Number(process.hrtime.bigint() - s0) / 1e6;
  const cpuMs = cpuFiles.map((f) => readFileSync(f, 'utf8').trim().split(/\s+/).map(Number).reduce((a, b) => a + b, 0) * 1000)
    .reduce((a, b) => a + b, 0);
  return { ms, cpuMs, shaMs };
}

interface OursResult { packMs: number; cpuMs: number; wallMs: number; rssBeforeMiB: number; maxRssMiB: number; size: number }

const repoRoot = join(__dirname, '..');
const childTs = join(__dirname, 'pack-bench.child.ts');

function bundleChild(work: string): string {
  const outfile = join(work, 'pack-bench.child.js');
  buildSync({ entryPoints: [childTs], bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile, external: ['@mongodb-js/zstd'], logLevel: 'error' });
  return outfile;
}

/** `child` is the bundled engine, or 'swc' to run the TypeScript source under the loader. */
async function ours(child: string, src: string, out: string): Promise<OursResult> {
  const argv = child === 'swc' ? ['-r', '@swc-node/register', childTs, src, out] : [child, src, out];
  const t0 = process.hrtime.bigint();
  const p = spawn(process.execPath, argv, {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
    // The bundle lives in the temp dir; the native zstd binding still resolves from the workspace.
    env: { ...process.env, NODE_PATH: join(repoRoot, 'node_modules') },
  });
  let stdout = '';
  p.stdout.on('data', (d) => (stdout += d));
  await new Promise<void>((resolve, reject) => p.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`pack child exited ${c}`)))));
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const r = JSON.parse(stdout) as { packMs: number; cpuMs: number; rssBeforeKiB: number; maxRssKiB: number; size: number };
  return { packMs: r.packMs, cpuMs: r.cpuMs, wallMs, rssBeforeMiB: r.rssBeforeKiB / 1024, maxRssMiB: r.maxRssKiB / 1024, size: r.size };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmtMiB = (b: number) => `${(b / MiB).toFixed(1)} MiB`;

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function compare(work: string, child: string, label: string, bytes: number, runs: number): Promise<void> {
  const src = join(work, `tree-${label}`);
  const g0 = Date.now();
  const { files } = generateTree(src, bytes, 42);
  console.log(`\n== ${label} tree: ${fmtMiB(bytes)} in ${files} files (half text-like, half random), generated in ${s(Date.now() - g0)}`);
  const oursOut = join(work, 'ours.tar.zst');
  const theirsOut = join(work, 'theirs.tar.zst');
  // One untimed pass of each warms the page cache and the binaries, so neither side pays for it alone.
  await theirs(src, theirsOut, work);
  await ours(child, src, oursOut);
  const t: Timing[] = [];
  const o: OursResult[] = [];
  for (let i = 0; i < runs; i++) {
    t.push(await theirs(src, theirsOut, work));
    o.push(await ours(child, src, oursOut));
  }
  await run(['zstd', '-q', '-t', oursOut]);
  const underLoader = await ours('swc', src, oursOut);
  const oursMs = median(o.map((r) => r.packMs));
  const theirsMs = median(t.map((r) => r.ms));
  const oursCpu = median(o.map((r) => r.cpuMs));
  const theirsCpu = median(t.map((r) => r.cpuMs));
  const oursWall = median(o.map((r) => r.wallMs));
  const theirsSize = statSync(theirsOut).size;
  console.log(`runs: ${runs}, interleaved (medians)        wall      cpu       size`);
  console.log(`tar | zstd -3 -T0                      ${s(theirsMs).padStart(8)}  ${s(theirsCpu).padStart(8)}  ${fmtMiB(theirsSize)}`);
  console.log(`veza pack                              ${s(oursMs).padStart(8)}  ${s(oursCpu).padStart(8)}  ${fmtMiB(o[0]!.size)}`);
  console.log(`ratio ours/theirs: wall ${(oursMs / theirsMs).toFixed(2)} (goal <= 1.25), cpu ${(oursCpu / theirsCpu).toFixed(2)}, size ${(o[0]!.size / theirsSize).toFixed(3)}`);
  const withSha = median(t.map((r) => r.ms + r.shaMs));
  console.log(`tar | zstd, then its sha256 (openssl dgst; our pack computes it too): ${s(withSha)}; ratio ours/that ${(oursMs / withSha).toFixed(2)}`);
  console.log(`each run, wall: theirs ${t.map((r) => (r.ms / 1000).toFixed(2)).join(' ')} | ours ${o.map((r) => (r.packMs / 1000).toFixed(2)).join(' ')}`);
  console.log(`our pack process wall incl. node start: ${s(oursWall)} (ratio ${(oursWall / theirsMs).toFixed(2)})`);
  const peak = o.reduce((a, b) => (b.maxRssMiB > a.maxRssMiB ? b : a));
  console.log(`our peak RSS: ${peak.maxRssMiB.toFixed(0)} MiB (goal < 256 MiB at 1 GiB; ${peak.rssBeforeMiB.toFixed(0)} MiB before packing: node + zstd binding)`);
  console.log(`  same pack under the swc loader: ${underLoader.maxRssMiB.toFixed(0)} MiB peak (${underLoader.rssBeforeMiB.toFixed(0)} MiB before packing), ${s(underLoader.packMs)}`);
  rmSync(src, { recursive: true, force: true });
  rmSync(oursOut, { force: true });
  rmSync(theirsOut, { force: true });
}

async function main(): Promise<void> {
  const size = parseSize(arg('size', '256M'));
  const rssSize = parseSize(arg('rss-size', '1G'));
  const runs = Number(arg('runs', '5'));
  const work = mkdtempSync(join(tmpdir(), 'veza-pack-bench-'));
  const cleanup = () => rmSync(work, { recursive: true, force: true });
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
  try {
    console.log(`pack bench ${new Date().toISOString()} — node ${process.version}, ${cpus().length} cores, load average ${load()}`);
    const child = bundleChild(work);
    await compare(work, child, 'speed', size, runs);
    await compare(work, child, 'rss', rssSize, 1);
    console.log(`\nload average at the end: ${load()} (other work on the machine skews wall times; runs are interleaved so both sides share it)`);
  } finally {
    cleanup();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
