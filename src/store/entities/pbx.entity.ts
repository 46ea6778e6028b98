import { randomUUID } from 'node:crypto';
import { Entity, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { updatedNow } from '../clock.js';

/** The tenant: one PBX. Every other row belongs to one. */
@Entity({ tableName: 'pbx' })
export class Pbx {
  [OptionalProps]?:
    | 'timeZone'
    | 'publicBaseUrl'
    | 'extensionCapacity'
    | 'defaultCountry'
    | 'createdAt'
    | 'updatedAt';

  @PrimaryKey({ type: 'string', length: 36 })
  id: string = randomUUID();

  @Property({ type: 'string', length: 200 })
  name!: string;

  /** IANA time zone, e.g. Europe/Berlin: schedules run in it (T1). */
  @Property({ type: 'string', length: 64 })
  timeZone: string = 'UTC';

  /** Where the PBX portal is reached; redirect URIs are built from it (L1). */
  @Property({ type: 'string', length: 500, nullable: true })
  publicBaseUrl: string | null = null;

  /** How many extensions the PBX licence allows (U10). */
  @Property({ type: 'integer' })
  extensionCapacity: number = 500;

  /** ISO 3166-1 alpha-2 country used to read national phone numbers. */
  @Property({ type: 'string', length: 2 })
  defaultCountry: string = 'US';

  @Property({ type: Date })
  createdAt: Date = new Date();

  @Property({ type: Date, onUpdate: updatedNow })
  updatedAt: Date = new Date();
}
