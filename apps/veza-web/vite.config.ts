import { defineConfig } from 'vite';
import { prerenderPlugin } from './build/prerender';
import { tokensPlugin } from './tokens/vite-plugin';

// The build preset passes --outDir <artifact>/public and sets VITE_RELEASE_SHA.
export default defineConfig({
  base: '/',
  // React's automatic runtime through Vite's own esbuild: no @vitejs/plugin-react needed for a production build.
  esbuild: { jsx: 'automatic' },
  plugins: [tokensPlugin('tokens/tokens.json'), prerenderPlugin()],
  build: {
    target: 'es2022',
    emptyOutDir: true,
    reportCompressedSize: false,
  },
});
