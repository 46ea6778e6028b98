import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The PBX portal (issue 17): a single page at /portal, built into dist/portal and served by the
 * gateway (src/http/portal.ts). Everything is bundled: nothing is loaded from outside the machine.
 */
const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: '/portal/',
  publicDir: false,
  logLevel: 'warn',
  build: {
    outDir: path.resolve(here, '../dist/portal'),
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    sourcemap: false,
  },
});
