import { Migration } from '@mikro-orm/migrations';

export class Migration20261126115635_sync_schedule extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table \`sync_settings\` add column \`schedule_frequency\` text not null default 'DAILY';`);
    this.addSql(`alter table \`sync_settings\` add column \`schedule_days\` text not null default '';`);
    this.addSql(`alter table \`sync_settings\` add column \`schedule_time\` text not null default '00:30';`);
  }

}
