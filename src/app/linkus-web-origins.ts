import { isLinkusWebOrigin } from '../domain/linkus-sso.js';
import type { Store } from './ports/store.port.js';

/** How long a process keeps the registered redirect URIs before it reads them again. */
const FRESH_MS = 30_000;

/**
 * S2: the web origins whose pages may read the gateway's answers (the Linkus web client calling
 * the token endpoint and /graphql from its own origin). They are the origins of the redirect URIs
 * admins registered for SSO (S1), across PBXs: one read every 30 s at most, not one per request; a
 * save in this process is seen at once, one in another process within 30 s.
 */
export class LinkusWebOrigins {
  private registered: Promise<readonly string[]> | null = null;
  private readAt = 0;

  constructor(
    private readonly openStore: () => Store,
    private readonly now: () => number = Date.now,
  ) {}

  async allows(origin: string): Promise<boolean> {
    if (!this.registered || this.now() - this.readAt > FRESH_MS) {
      this.readAt = this.now();
      const reading = this.openStore().integrations.linkusSsoRedirectUris();
      this.registered = reading;
      // A failed read is not kept: the next request reads again.
      reading.catch(() => {
        if (this.registered === reading) this.registered = null;
      });
    }
    return isLinkusWebOrigin(await this.registered, origin);
  }

  /** Forgets what was read (after a save of the SSO settings in this process). */
  forget(): void {
    this.registered = null;
  }
}
