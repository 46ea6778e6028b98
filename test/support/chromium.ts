import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

/**
 * Debian's headless Chromium, driven by playwright-core, for the browser tests. Without
 * /usr/bin/chromium (`apt-get install chromium`; .ci/run installs it) they are skipped, loudly:
 * `chromiumMissing` says why, or is null.
 */
const CHROMIUM = '/usr/bin/chromium';
/** As the machine's probe starts it: no GPU, no QUIC, nothing that reaches the network by itself. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const playwright = await import('playwright-core').catch(() => null);

export const chromiumMissing: string | null = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is not installed (apt-get install chromium)`
  : !playwright
    ? 'playwright-core is not installed'
    : null;

/** A new browser; launch() gives every run a fresh temporary profile (its own --user-data-dir). */
export function launchChromium(): Promise<Browser> {
  if (!playwright) throw new Error('playwright-core is not installed');
  return playwright.chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
}
