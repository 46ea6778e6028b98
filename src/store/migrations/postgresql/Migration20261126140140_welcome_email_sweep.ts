import { Migration } from '@mikro-orm/migrations';

export class Migration20261126140140_welcome_email_sweep extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create index "welcome_email_status_index" on "welcome_email" ("status", "id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "welcome_email_status_index";`);
  }

}
