import type { AppServices } from '../../src/app/services.js';

/**
 * App services for a test that builds processors (or deps) but runs nothing that uses them:
 * every member throws, saying so, instead of being left out.
 */
export function unusedServices(why: string): AppServices {
  return new Proxy({} as AppServices, {
    get(_target, member) {
      throw new Error(`app services are not used ${why} (asked for ${String(member)})`);
    },
  });
}
