'use strict';
/**
 * Nx loads executors and plugins with require(), and for a `.ts` file it
 * first registers a TypeScript transpiler (typescript + swc-node): about a
 * second in every task process and plugin worker. So executors.json and
 * nx.json name small JS entries (tools/executors/executors.js,
 * tools/generators/component-nodes.js) that load esbuild bundles of the same
 * `.ts` sources through freshBundle. The `.ts` files stay the truth: a bundle
 * older than any file it was built from is rebuilt before it is loaded, so
 * `npx nx run …` right after an edit, or in a fresh clone, runs the current
 * code with no build step.
 *
 * Layout of <dir>/dist: one folder per build, and current.json naming the
 * folder, its inputs and when the build started. current.json is replaced by
 * rename, so processes that rebuild at the same moment each publish a whole
 * build and readers never see a half-written one.
 */
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const vm = require('node:vm');

/** A superseded build folder is removed only this long after it was replaced, in case a process had just read current.json. */
const OLD_BUILD_GRACE_MS = 60_000;

/**
 * Bundles of `entryPoints` (output name -> source, relative to `dir`),
 * rebuilt now if any is stale. `load(name)` requires one output;
 * `loadCompiled(name)` too, with V8's code cache (below).
 */
function freshBundle(dir, entryPoints) {
  const dist = path.join(dir, 'dist');
  const current = readCurrent(dir, dist, entryPoints) ?? build(dir, dist, entryPoints);
  const file = (name) => path.join(dist, current.build, `${name}.js`);
  return { load: (name) => require(file(name)), loadCompiled: (name) => loadCompiled(file(name)), loadCompiledUntilExit: (name) => loadCompiledUntilExit(file(name)) };
}

const loadedUntilExit = new Map();

/**
 * loadCompiled for a module a process keeps (an executor in its task
 * process, the graph plugin): its exports, once per process, with the code
 * cache written when the process exits, so that it also holds what the run
 * compiled lazily.
 */
function loadCompiledUntilExit(file) {
  let compiled = loadedUntilExit.get(file);
  if (!compiled) {
    compiled = loadCompiled(file);
    loadedUntilExit.set(file, compiled);
    process.once('exit', () => compiled.saveCodeCache());
  }
  return compiled.exports;
}

/**
 * Loads a bundle as require() would, compiled from V8's code cache kept
 * beside it (`<name>.js.v8cache`): for a short-lived command (the `veza`
 * CLI) compiling a 3 MB bundle is most of its start-up, and Node 20 has no
 * compile cache of its own. The cache belongs to its build folder, so a
 * rebuild starts a new one; one V8 rejects (another Node) is replaced.
 * `saveCodeCache()`, called once the command has run, writes it when there
 * was none — then it also holds the functions the run compiled lazily.
 */
function loadCompiled(file) {
  const cacheFile = `${file}.v8cache`;
  let cachedData;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file, cachedData });
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
  mod.loaded = true;
  const stale = cachedData === undefined || script.cachedDataRejected;
  return {
    exports: mod.exports,
    saveCodeCache() {
      if (!stale) return;
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      try {
        fs.writeFileSync(tmp, script.createCachedData());
        fs.renameSync(tmp, cacheFile);
      } catch {
        // Only a speed-up: a read-only checkout runs without it.
        fs.rmSync(tmp, { force: true });
      }
    },
  };
}

/** current.json when it describes a build of these entry points newer than every input, else undefined. */
function readCurrent(dir, dist, entryPoints) {
  const current = readCurrentJson(dist);
  if (!current || JSON.stringify(current.entryPoints) !== JSON.stringify(entryPoints)) return undefined;
  if (!fs.existsSync(path.join(dist, current.build))) return undefined;
  for (const input of current.inputs) {
    // Strictly older: a file written in the same clock tick as the build started may not be in it.
    const mtime = fs.statSync(path.resolve(dir, input), { throwIfNoEntry: false })?.mtimeMs;
    if (mtime === undefined || mtime >= current.startedMs) return undefined;
  }
  return current;
}

function build(dir, dist, entryPoints) {
  const esbuild = require('esbuild');
  fs.mkdirSync(dist, { recursive: true });
  const name = `b${Date.now().toString(36)}-${process.pid}`;
  const out = path.join(dist, name);
  fs.mkdirSync(out);
  // The folder's own mtime comes from the same clock as the sources' mtimes.
  const startedMs = fs.statSync(out).mtimeMs;
  let result;
  try {
    result = esbuild.buildSync({
      absWorkingDir: dir,
      entryPoints,
      outdir: out,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      // Nx itself (the host process has it loaded already), native modules, esbuild (it finds its own
      // binary), and the file the local driver spawns, which it finds with require.resolve.
      external: ['nx', 'nx/*', '@nx/*', '@mongodb-js/zstd', '@swc/*', 'esbuild', 'pg-native', '@veza/engine/hosts/local/supervisor.js'],
      // Before any schema exists: zod decides when a schema is created whether to compile a fast path
      // (new Function) on its first parse. These processes are short and parse each file once, so that
      // compilation was about a tenth of a second of pure cost. z.config({ jitless: true }) sets this
      // object, but only schemas created after the call read it; zod 4 keeps it on globalThis.
      banner: { js: '(globalThis.__zod_globalConfig ??= {}).jitless = true;' },
      metafile: true,
      logLevel: 'silent',
    });
  } catch (e) {
    fs.rmSync(out, { recursive: true, force: true });
    const detail = (e.errors ?? []).map((m) => `${m.location ? `${m.location.file}:${m.location.line}: ` : ''}${m.text}`).join('; ') || e.message;
    throw new Error(`cannot bundle ${path.relative(process.cwd(), dir) || '.'} to JS: ${detail} — fix the source and run the command again`);
  }
  const current = { build: name, startedMs, entryPoints, inputs: inputsOf(dir, result.metafile) };
  const tmp = path.join(dist, `.current.json.${name}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(current, null, 1));
  const replaced = readCurrentJson(dist)?.build;
  fs.renameSync(tmp, path.join(dist, 'current.json'));
  // Its mtime now says when it stopped being current, which is what the grace period counts from.
  if (replaced && replaced !== name) {
    try {
      fs.utimesSync(path.join(dist, replaced), new Date(), new Date());
    } catch (e) {
      if (e.code !== 'ENOENT') throw e; // a concurrent build already removed it
    }
  }
  removeOldBuilds(dist, name);
  return current;
}

/**
 * What a build depends on: its sources, this file (the build options), the
 * tsconfig files esbuild reads, and for bundled packages their
 * node_modules/.package-lock.json, which npm rewrites on every install (the
 * packages' own files keep the registry's fixed mtimes). Relative to `dir`,
 * so a copy of the tree checks its own files.
 */
function inputsOf(dir, metafile) {
  const inputs = new Set([__filename]);
  for (const input of Object.keys(metafile.inputs)) {
    const abs = path.resolve(dir, input);
    const nm = abs.lastIndexOf(`${path.sep}node_modules${path.sep}`);
    if (nm === -1) inputs.add(abs);
    else inputs.add(path.join(abs.slice(0, nm), 'node_modules', '.package-lock.json'));
  }
  for (let d = dir; ; d = path.dirname(d)) {
    for (const f of ['tsconfig.json', 'tsconfig.base.json']) inputs.add(path.join(d, f));
    if (path.dirname(d) === d) break;
  }
  return [...inputs].filter((f) => fs.existsSync(f)).map((f) => path.relative(dir, f)).sort();
}

/** current.json as written, or undefined when there is none yet or it is torn (a crash mid-write): both mean rebuild. */
function readCurrentJson(dist) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dist, 'current.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

function removeOldBuilds(dist, keep) {
  const now = Date.now();
  for (const entry of fs.readdirSync(dist, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === keep) continue;
    const st = fs.statSync(path.join(dist, entry.name), { throwIfNoEntry: false });
    if (st && now - st.mtimeMs > OLD_BUILD_GRACE_MS) fs.rmSync(path.join(dist, entry.name), { recursive: true, force: true });
  }
}

module.exports = { freshBundle };
