import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261126111537_initial } from './Migration20261126111537_initial.js';
import { Migration20261126112616_integration_connect } from './Migration20261126112616_integration_connect.js';
import { Migration20261126114044_sync_engine } from './Migration20261126114044_sync_engine.js';

/** Checked-in migrations for SQLite, oldest first. `npm run migration:create` appends here. */
export const sqliteMigrations: MigrationObject[] = [
  { name: 'Migration20261126111537_initial', class: Migration20261126111537_initial },
  { name: 'Migration20261126112616_integration_connect', class: Migration20261126112616_integration_connect },
  { name: 'Migration20261126114044_sync_engine', class: Migration20261126114044_sync_engine },
];
