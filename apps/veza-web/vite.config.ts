import { defineConfig } from 'vite';
import { tokensPlugin } from './tokens/vite-plugin';

// The build preset passes --outDir <artifact>/public and sets VITE_RELEASE_SHA.
export default defineConfig({
  base: '/',
  plugins: [tokensPlugin('tokens/tokens.json')],
  build: {
    target: 'es2022',
    emptyOutDir: true,
    reportCompressedSize: false,
  },
});
