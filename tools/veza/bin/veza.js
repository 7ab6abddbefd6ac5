#!/usr/bin/env node
'use strict';
/**
 * `npx veza …`: the operator's CLI (src/main.ts). It runs as an esbuild
 * bundle of its TypeScript sources, rebuilt here first when any source is
 * newer than the bundle (tools/scripts/fresh-bundle.cjs): no TypeScript
 * transpiler and no Nx at start-up, and the bundle is compiled from V8's
 * code cache, so a command costs little more than Node's start plus the
 * engine call.
 */
const path = require('node:path');
const { freshBundle } = require('../../scripts/fresh-bundle.cjs');

/** The current bundle, built now if stale (setup.sh calls this to prebuild it). */
function bundle() {
  return freshBundle(path.join(__dirname, '..'), { main: './src/main.ts' });
}

if (require.main === module) {
  const main = bundle().loadCompiled('main');
  main.exports.main(process.argv.slice(2)).then((code) => {
    main.saveCodeCache();
    process.exitCode = code;
  });
}

module.exports = { bundle };
