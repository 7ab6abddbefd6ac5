import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import type { Plugin } from 'vite';
import { App } from '../ui/App';

const MARK = '<!--app-->';

/**
 * Renders <App> into index.html at build time with the release the build is
 * for, so the page shows its sha to a plain GET (and to the deploy's checks)
 * before any script runs; the client hydrates the same tree.
 */
export function prerenderPlugin(): Plugin {
  let release = 'dev';
  return {
    name: 'veza-prerender',
    configResolved(config) {
      release = (config.env.VITE_RELEASE_SHA as string | undefined) || 'dev';
    },
    transformIndexHtml: {
      order: 'post',
      handler(html, ctx) {
        if (!html.includes(MARK)) throw new Error(`${ctx.filename}: no ${MARK} marker where the app should be rendered — put <div id="root">${MARK}</div> in index.html`);
        return html.replace(MARK, renderToString(createElement(App, { release })));
      },
    },
  };
}
