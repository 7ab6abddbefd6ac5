import { promises as fs } from 'node:fs';
import { resolve } from 'node:path';
import type { Plugin } from 'vite';
import { parseTokens, tokensToCss } from './css';

const TOKENS_MODULE = 'virtual:tokens.css';
// The \0 prefix keeps other plugins off the id; the .css ending routes it through Vite's CSS pipeline.
const RESOLVED = `\0${TOKENS_MODULE}`;

/** Serves `virtual:tokens.css`, generated from the tokens file at build time (and on change in dev). */
export function tokensPlugin(tokensFile: string): Plugin {
  let file = tokensFile;
  return {
    name: 'veza-tokens',
    configResolved(config) {
      file = resolve(config.root, tokensFile);
    },
    resolveId(id) {
      return id === TOKENS_MODULE ? RESOLVED : undefined;
    },
    async load(id) {
      if (id !== RESOLVED) return undefined;
      this.addWatchFile(file);
      return tokensToCss(parseTokens(await fs.readFile(file, 'utf8'), file));
    },
  };
}
