import { randomUUID } from 'node:crypto';
import {
  Entity,
  Index,
  ManyToOne,
  OptionalProps,
  PrimaryKey,
  PrimaryKeyProp,
  Property,
  Unique,
} from '@mikro-orm/core';
import { updatedNow } from '../clock.js';
import { Extension } from './extension.entity.js';
import { ExtensionGroup } from './extension-group.entity.js';
import { Pbx } from './pbx.entity.js';

/**
 * A phonebook of one PBX (C3): a shared mailbox's contacts, or one made by hand. Nobody sees
 * it until the admin grants it: to all extensions, or to chosen extensions and extension groups
 * (PhonebookExtension, PhonebookExtensionGroup).
 */
@Entity({ tableName: 'phonebook' })
@Unique({ name: 'phonebook_pbx_mailbox_unique', properties: ['pbx', 'mailboxId'] })
export class Phonebook {
  [OptionalProps]?: 'mailboxId' | 'synced' | 'allExtensions' | 'createdAt' | 'updatedAt';

  @PrimaryKey({ type: 'string', length: 36 })
  id: string = randomUUID();

  @ManyToOne(() => Pbx, { deleteRule: 'cascade' })
  pbx!: Pbx;

  @Property({ type: 'string', length: 128 })
  name!: string;

  /** The shared mailbox's user object id; null for a phonebook made by hand. */
  @Property({ type: 'string', length: 64, nullable: true })
  mailboxId: string | null = null;

  @Property({ type: 'boolean' })
  synced: boolean = false;

  /** Visible to every extension of the PBX. */
  @Property({ type: 'boolean' })
  allExtensions: boolean = false;

  @Property({ type: Date })
  createdAt: Date = new Date();

  @Property({ type: Date, onUpdate: updatedNow })
  updatedAt: Date = new Date();
}

/** A phonebook granted to one extension. Deleting either deletes the grant. */
@Entity({ tableName: 'phonebook_extension' })
@Index({ name: 'phonebook_extension_extension_index', properties: ['extension'] })
export class PhonebookExtension {
  [PrimaryKeyProp]?: ['phonebook', 'extension'];

  @ManyToOne(() => Phonebook, { primary: true, deleteRule: 'cascade' })
  phonebook!: Phonebook;

  @ManyToOne(() => Extension, { primary: true, deleteRule: 'cascade' })
  extension!: Extension;
}

/** A phonebook granted to the members of one extension group. Deleting either deletes the grant. */
@Entity({ tableName: 'phonebook_extension_group' })
@Index({ name: 'phonebook_extension_group_group_index', properties: ['group'] })
export class PhonebookExtensionGroup {
  [PrimaryKeyProp]?: ['phonebook', 'group'];

  @ManyToOne(() => Phonebook, { primary: true, deleteRule: 'cascade' })
  phonebook!: Phonebook;

  @ManyToOne(() => ExtensionGroup, { primary: true, deleteRule: 'cascade' })
  group!: ExtensionGroup;
}

/**
 * A contact (C1, C3): owned by one extension (its user's personal contacts) or by one
 * phonebook; exactly one of `extension` and `phonebook` is set. A synced contact is found
 * again by its source (owner, mailbox, folder, Outlook id): the two unique indexes, which also
 * serve the foreign keys' cascades and `syncedKeys`. Numbers and emails are kept as JSON (read
 * whole with the contact); what lookups and search need is in ContactKey.
 */
@Entity({ tableName: 'contact' })
@Index({ name: 'contact_pbx_index', properties: ['pbx'] })
@Unique({
  name: 'contact_extension_source_unique',
  properties: ['extension', 'sourceMailboxId', 'sourceFolderId', 'sourceContactId'],
})
@Unique({
  name: 'contact_phonebook_source_unique',
  properties: ['phonebook', 'sourceMailboxId', 'sourceFolderId', 'sourceContactId'],
})
export class Contact {
  [OptionalProps]?:
    | 'extension'
    | 'phonebook'
    | 'firstName'
    | 'lastName'
    | 'company'
    | 'jobTitle'
    | 'sourceMailboxId'
    | 'sourceFolderId'
    | 'sourceContactId'
    | 'changeKey'
    | 'synced'
    | 'createdAt'
    | 'updatedAt';

  @PrimaryKey({ type: 'string', length: 36 })
  id: string = randomUUID();

  @ManyToOne(() => Pbx, { deleteRule: 'cascade' })
  pbx!: Pbx;

  @ManyToOne(() => Extension, { deleteRule: 'cascade', nullable: true })
  extension: Extension | null = null;

  @ManyToOne(() => Phonebook, { deleteRule: 'cascade', nullable: true })
  phonebook: Phonebook | null = null;

  @Property({ type: 'string', length: 128, nullable: true })
  firstName: string | null = null;

  @Property({ type: 'string', length: 128, nullable: true })
  lastName: string | null = null;

  @Property({ type: 'string', length: 256 })
  displayName!: string;

  @Property({ type: 'string', length: 256, nullable: true })
  company: string | null = null;

  @Property({ type: 'string', length: 128, nullable: true })
  jobTitle: string | null = null;

  /** JSON array of strings. */
  @Property({ type: 'text' })
  emails!: string;

  /** JSON array of ContactNumber. */
  @Property({ type: 'text' })
  numbers!: string;

  @Property({ type: 'string', length: 64, nullable: true })
  sourceMailboxId: string | null = null;

  @Property({ type: 'string', length: 255, nullable: true })
  sourceFolderId: string | null = null;

  @Property({ type: 'string', length: 255, nullable: true })
  sourceContactId: string | null = null;

  @Property({ type: 'string', length: 255, nullable: true })
  changeKey: string | null = null;

  @Property({ type: 'boolean' })
  synced: boolean = false;

  @Property({ type: Date })
  createdAt: Date = new Date();

  @Property({ type: Date, onUpdate: updatedNow })
  updatedAt: Date = new Date();
}

/**
 * What lookups and search read (src/domain/contact-search.ts makes the terms): one row per
 * term of a contact, under its owner (the extension or phonebook id, denormalised so that one
 * index range answers "terms of this owner starting with ..."). Kinds: NAME (the whole name),
 * WORD (a later word of the name, the company and its words), NUMBER (E.164, or `#` and the
 * digits when a number has none). About four rows per contact: this is what grows with the
 * contacts, with the one index `contact_key_owner_term_index` beside the primary key.
 */
@Entity({ tableName: 'contact_key' })
@Index({ name: 'contact_key_owner_term_index', properties: ['ownerId', 'kind', 'term', 'contact'] })
export class ContactKey {
  [PrimaryKeyProp]?: ['contact', 'kind', 'term'];

  @ManyToOne(() => Contact, { primary: true, deleteRule: 'cascade' })
  contact!: Contact;

  /** 0 NAME, 1 WORD, 2 NUMBER (ContactTermKind). */
  @PrimaryKey({ type: 'smallint' })
  kind!: number;

  @PrimaryKey({ type: 'string', length: 64 })
  term!: string;

  @Property({ type: 'string', length: 36 })
  ownerId!: string;
}
