import { Migration } from '@mikro-orm/migrations';

export class Migration20261207201102_directory_fingerprint_indexes extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create index "extension_pbx_source_index" on "extension" ("pbx_id", "source");`);
    this.addSql(`create index "extension_pbx_updated_at_index" on "extension" ("pbx_id", "updated_at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "extension_pbx_source_index";`);
    this.addSql(`drop index "extension_pbx_updated_at_index";`);
  }

}
