import { defineConfig } from 'vite';

// Built by `npm run build` into dist/dashboard (shipped in the package). The server
// replaces the base placeholder with the mount path as requested, global prefix included.
export default defineConfig({
  base: '/__PGFLOW_BASE__/',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: '../dist/dashboard',
    emptyOutDir: true,
    assetsDir: 'assets',
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1000,
  },
});
