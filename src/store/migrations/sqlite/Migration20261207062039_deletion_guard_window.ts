import { Migration } from '@mikro-orm/migrations';

export class Migration20261207062039_deletion_guard_window extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table \`sync_settings\` add column \`guard_window_hours\` integer not null default 24;`);
    this.addSql(`alter table \`sync_settings\` add column \`guard_approved_at\` datetime null;`);
  }

}
