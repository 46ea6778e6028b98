import { Migration } from '@mikro-orm/migrations';

/**
 * Search answers prefixes as ranges of `contact_key.term` (term >= 'ab' and term < 'ab' ||
 * U+10FFFF, src/store/contact.repository.ts): right only when terms compare code point by code
 * point. A database made with a linguistic collation (en_US.UTF-8, ICU) compares otherwise:
 * "a bc" falls between "ab" and "ab…" when spaces are ignored, "straße" within "stras…". The
 * column compares bytewise ("C") whatever the database's collation; its indexes are rebuilt.
 * SQLite compares text bytewise (BINARY) unless told otherwise: nothing to do there.
 */
export class Migration20261207150000_contact_key_collation extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "contact_key" alter column "term" type varchar(64) collate "C";`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "contact_key" alter column "term" type varchar(64) collate "default";`);
  }
}
