import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261126111537_initial } from './Migration20261126111537_initial.js';
import { Migration20261126112616_integration_connect } from './Migration20261126112616_integration_connect.js';
import { Migration20261126114044_sync_engine } from './Migration20261126114044_sync_engine.js';
import { Migration20261126114620_welcome_email } from './Migration20261126114620_welcome_email.js';
import { Migration20261126114951_change_notifications } from './Migration20261126114951_change_notifications.js';
import { Migration20261126115635_sync_schedule } from './Migration20261126115635_sync_schedule.js';
import { Migration20261126132555_sync_run_fingerprint } from './Migration20261126132555_sync_run_fingerprint.js';
import { Migration20261126140140_welcome_email_sweep } from './Migration20261126140140_welcome_email_sweep.js';
import { Migration20261207061318_operators } from './Migration20261207061318_operators.js';
import { Migration20261207061937_integration_health } from './Migration20261207061937_integration_health.js';
import { Migration20261207062039_deletion_guard_window } from './Migration20261207062039_deletion_guard_window.js';
import { Migration20261207115021_contact_sync } from './Migration20261207115021_contact_sync.js';
import { Migration20261207115914_contacts } from './Migration20261207115914_contacts.js';
import { Migration20261207142335_run_item_object } from './Migration20261207142335_run_item_object.js';
import { Migration20261207142357_linkus_sso } from './Migration20261207142357_linkus_sso.js';
import { Migration20261207142521_linkus_sessions } from './Migration20261207142521_linkus_sessions.js';
import { Migration20261207144020_run_item_seq } from './Migration20261207144020_run_item_seq.js';
import { Migration20261207144749_presence } from './Migration20261207144749_presence.js';
import { Migration20261207150100_extension_mobile_e164 } from './Migration20261207150100_extension_mobile_e164.js';
import { Migration20261207201101_directory_fingerprint_indexes } from './Migration20261207201101_directory_fingerprint_indexes.js';

/** Checked-in migrations for SQLite, oldest first. `npm run migration:create` appends here. */
export const sqliteMigrations: MigrationObject[] = [
  { name: 'Migration20261126111537_initial', class: Migration20261126111537_initial },
  { name: 'Migration20261126112616_integration_connect', class: Migration20261126112616_integration_connect },
  { name: 'Migration20261126114044_sync_engine', class: Migration20261126114044_sync_engine },
  { name: 'Migration20261126114620_welcome_email', class: Migration20261126114620_welcome_email },
  {
    name: 'Migration20261126114951_change_notifications',
    class: Migration20261126114951_change_notifications,
  },
  { name: 'Migration20261126115635_sync_schedule', class: Migration20261126115635_sync_schedule },
  {
    name: 'Migration20261126132555_sync_run_fingerprint',
    class: Migration20261126132555_sync_run_fingerprint,
  },
  { name: 'Migration20261126140140_welcome_email_sweep', class: Migration20261126140140_welcome_email_sweep },
  { name: 'Migration20261207061318_operators', class: Migration20261207061318_operators },
  { name: 'Migration20261207061937_integration_health', class: Migration20261207061937_integration_health },
  {
    name: 'Migration20261207062039_deletion_guard_window',
    class: Migration20261207062039_deletion_guard_window,
  },
  { name: 'Migration20261207115021_contact_sync', class: Migration20261207115021_contact_sync },
  { name: 'Migration20261207115914_contacts', class: Migration20261207115914_contacts },
  { name: 'Migration20261207142335_run_item_object', class: Migration20261207142335_run_item_object },
  { name: 'Migration20261207142357_linkus_sso', class: Migration20261207142357_linkus_sso },
  { name: 'Migration20261207142521_linkus_sessions', class: Migration20261207142521_linkus_sessions },
  { name: 'Migration20261207144020_run_item_seq', class: Migration20261207144020_run_item_seq },
  { name: 'Migration20261207144749_presence', class: Migration20261207144749_presence },
  {
    name: 'Migration20261207150100_extension_mobile_e164',
    class: Migration20261207150100_extension_mobile_e164,
  },
  {
    name: 'Migration20261207201101_directory_fingerprint_indexes',
    class: Migration20261207201101_directory_fingerprint_indexes,
  },
];
