import { Migration } from '@mikro-orm/migrations';

export class Migration20261207062040_deletion_guard_window extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "sync_settings" add column "guard_window_hours" int not null default 24, add column "guard_approved_at" timestamptz null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "sync_settings" drop column "guard_window_hours", drop column "guard_approved_at";`);
  }

}
