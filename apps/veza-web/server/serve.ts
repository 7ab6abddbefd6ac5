import { existsSync } from 'node:fs';
import { join } from 'node:path';
import declaration from '../component.json';
import { runComponent } from '@veza/component-runtime/runtime';
import { createWebServer } from './web-server';

// Bundled as server.js at the artifact root, beside the Vite output in public/.
const publicDir = process.env.PUBLIC_DIR || join(__dirname, 'public');
if (!existsSync(join(publicDir, 'index.html'))) {
  process.stderr.write(`veza-web: no index.html in ${publicDir} — run server.js from an unpacked veza-web artifact (public/ beside it) or set PUBLIC_DIR to a vite build\n`);
  process.exit(1);
}

void runComponent(declaration.name, declaration.run.port, (cfg) => createWebServer({ ...cfg, publicDir }));
