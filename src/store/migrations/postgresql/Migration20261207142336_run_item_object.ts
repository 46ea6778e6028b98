import { Migration } from '@mikro-orm/migrations';

export class Migration20261207142336_run_item_object extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create index "sync_run_item_run_object_index" on "sync_run_item" ("run_id", "object_id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "sync_run_item_run_object_index";`);
  }

}
