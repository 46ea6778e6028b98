import { Migration } from '@mikro-orm/migrations';

export class Migration20261126115636_sync_schedule extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "sync_settings" add column "schedule_frequency" varchar(8) not null default 'DAILY', add column "schedule_days" varchar(32) not null default '', add column "schedule_time" varchar(5) not null default '00:30';`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "sync_settings" drop column "schedule_frequency", drop column "schedule_days", drop column "schedule_time";`);
  }

}
