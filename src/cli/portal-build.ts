import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { defaultPortalDir } from '../http/portal.js';

/**
 * Builds the portal (issue 17) with Vite, as `npm run portal:build` does: for `npm run demo`
 * (when dist/portal is missing or older than portal/) and for the portal's browser test (into a
 * directory of its own). Vite is a development tool: production serves what `npm run build` made.
 */
const ROOT = path.resolve(defaultPortalDir(), '..', '..');
const SOURCE = path.join(ROOT, 'portal');

function newest(dir: string): number {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Whether the build in `outDir` is missing or older than the portal's sources. */
export function portalStale(outDir = defaultPortalDir()): boolean {
  const index = path.join(outDir, 'index.html');
  if (!existsSync(index)) return true;
  return existsSync(SOURCE) && newest(SOURCE) > statSync(index).mtimeMs;
}

export async function buildPortal(outDir = defaultPortalDir()): Promise<string> {
  const { build } = await import('vite');
  await build({
    configFile: path.join(SOURCE, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true },
  });
  return outDir;
}
