import { Migration } from '@mikro-orm/migrations';

export class Migration20261207144021_run_item_seq extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create index "sync_run_item_run_seq_index" on "sync_run_item" ("run_id", "seq");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "sync_run_item_run_seq_index";`);
  }

}
