'use strict';
/**
 * The createNodesV2 plugin nx.json registers: src/plugin/component-nodes.ts,
 * bundled to JS so Nx's plugin worker loads no TypeScript transpiler (see
 * tools/scripts/fresh-bundle.cjs). Requiring this file rebuilds the bundle if
 * a source changed. Every Nx command computes the project graph and so loads
 * this bundle (in-process: .env turns plugin isolation off), hence the code
 * cache.
 */
const { freshBundle } = require('../scripts/fresh-bundle.cjs');

const bundle = freshBundle(__dirname, { 'component-nodes': './src/plugin/component-nodes.ts' });
let plugin;
Object.defineProperty(exports, 'createNodesV2', { enumerable: true, get: () => (plugin ??= bundle.loadCompiledUntilExit('component-nodes')).createNodesV2 });
