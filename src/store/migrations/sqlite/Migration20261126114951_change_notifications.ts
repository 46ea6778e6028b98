import { Migration } from '@mikro-orm/migrations';

export class Migration20261126114951_change_notifications extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`graph_subscription\` (\`id\` text not null, \`pbx_id\` text not null, \`resource\` text not null, \`expires_at\` datetime not null, \`client_state_hash\` text not null, \`created_at\` datetime not null, \`renewed_at\` datetime null, constraint \`graph_subscription_pbx_id_foreign\` foreign key(\`pbx_id\`) references \`pbx\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`create index \`graph_subscription_pbx_index\` on \`graph_subscription\` (\`pbx_id\`);`);

    this.addSql(`alter table \`sync_settings\` add column \`change_debounce_seconds\` integer not null default 600;`);
    this.addSql(`alter table \`sync_settings\` add column \`change_threshold\` integer not null default 10;`);
    this.addSql(`alter table \`sync_settings\` add column \`poll_minutes\` integer not null default 5;`);
    this.addSql(`alter table \`sync_settings\` add column \`last_polled_at\` datetime null;`);
  }

}
