import type { Store } from '../app/ports/store.port.js';
import type { AppServices } from '../app/services.js';
import type { Caller } from '../domain/access.js';
import type { Logger } from '../logger.js';

/** What every resolver gets: who calls, one unit of work, and a request-scoped logger. */
export interface GraphQLContext {
  caller: Caller;
  store: Store;
  requestId: string;
  logger: Logger;
  services: AppServices;
}
