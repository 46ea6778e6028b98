import type { AuthStateStore, IntegrationDeps } from './integration.js';
import type { MicrosoftDirectoryInfo, MicrosoftIdentity } from './microsoft.port.js';
import type { Store } from './ports.js';
import type { SecretBox } from './secret-box.js';
import type { EventPublisher } from './topics.js';

/** The long-lived services the use cases need besides a unit of work (built once per process). */
export interface AppServices {
  microsoft: MicrosoftIdentity & MicrosoftDirectoryInfo;
  authStates: AuthStateStore;
  events: EventPublisher;
  secrets: SecretBox;
  now: () => Date;
}

export function integrationDeps(services: AppServices, store: Store): IntegrationDeps {
  return {
    store,
    identity: services.microsoft,
    directoryInfo: services.microsoft,
    authStates: services.authStates,
    events: services.events,
    secrets: services.secrets,
    now: services.now,
  };
}
