import { Migration } from '@mikro-orm/migrations';

export class Migration20261207144020_run_item_seq extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create index \`sync_run_item_run_seq_index\` on \`sync_run_item\` (\`run_id\`, \`seq\`);`);
  }

}
