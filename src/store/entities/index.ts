import { ApiKey } from './api-key.entity.js';
import { AuditEntry } from './audit-entry.entity.js';
import {
  Contact,
  ContactKey,
  Phonebook,
  PhonebookExtension,
  PhonebookExtensionGroup,
} from './contact.entity.js';
import { Extension } from './extension.entity.js';
import { ExtensionGroup, ExtensionGroupMember } from './extension-group.entity.js';
import { GraphSubscription } from './graph-subscription.entity.js';
import { Integration } from './integration.entity.js';
import { IntegrationHealth } from './integration-health.entity.js';
import { LinkusRefreshTokenRow, LinkusSessionRow, LinkusSigningKeyRow } from './linkus-session.entity.js';
import { Pbx } from './pbx.entity.js';
import { ExtensionPresenceRow, PresenceSettingsRow } from './presence.entity.js';
import {
  ContactFolderCursorRow,
  ContactRunTally,
  DirectoryObject,
  SyncRun,
  SyncRunItem,
  SyncSettings,
} from './sync.entity.js';
import { WelcomeEmailRow } from './welcome-email.entity.js';

export {
  ApiKey,
  AuditEntry,
  Contact,
  ContactFolderCursorRow,
  ContactKey,
  ContactRunTally,
  DirectoryObject,
  Extension,
  ExtensionGroup,
  ExtensionGroupMember,
  ExtensionPresenceRow,
  GraphSubscription,
  Integration,
  IntegrationHealth,
  LinkusRefreshTokenRow,
  LinkusSessionRow,
  LinkusSigningKeyRow,
  Pbx,
  Phonebook,
  PhonebookExtension,
  PhonebookExtensionGroup,
  PresenceSettingsRow,
  SyncRun,
  SyncRunItem,
  SyncSettings,
  WelcomeEmailRow,
};

/** Every entity the ORM knows; migrations are generated from this list. */
export const ENTITIES = [
  Pbx,
  ApiKey,
  Integration,
  IntegrationHealth,
  Extension,
  ExtensionGroup,
  ExtensionGroupMember,
  AuditEntry,
  SyncSettings,
  DirectoryObject,
  SyncRun,
  SyncRunItem,
  WelcomeEmailRow,
  GraphSubscription,
  Phonebook,
  PhonebookExtension,
  PhonebookExtensionGroup,
  Contact,
  ContactKey,
  ContactFolderCursorRow,
  ContactRunTally,
  LinkusSessionRow,
  LinkusRefreshTokenRow,
  LinkusSigningKeyRow,
  PresenceSettingsRow,
  ExtensionPresenceRow,
];
