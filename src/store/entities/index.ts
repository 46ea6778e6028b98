import { ApiKey } from './api-key.entity.js';
import { Integration } from './integration.entity.js';
import { Pbx } from './pbx.entity.js';

export { ApiKey, Integration, Pbx };

/** Every entity the ORM knows; migrations are generated from this list. */
export const ENTITIES = [Pbx, ApiKey, Integration];
