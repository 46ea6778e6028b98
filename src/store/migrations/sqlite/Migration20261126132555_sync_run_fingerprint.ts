import { Migration } from '@mikro-orm/migrations';

export class Migration20261126132555_sync_run_fingerprint extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table \`sync_run\` add column \`pbx_fingerprint\` text null;`);
  }

}
