import { Migration } from '@mikro-orm/migrations';

export class Migration20261207115021_contact_sync extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`contact_folder_cursor\` (\`key\` text not null, \`pbx_id\` text not null, \`mailbox_id\` text not null, \`folder_id\` text not null, \`kind\` text not null, \`owner_kind\` text not null, \`owner_id\` text not null, \`delta_link\` text null, \`updated_at\` datetime not null, constraint \`contact_folder_cursor_pbx_id_foreign\` foreign key(\`pbx_id\`) references \`pbx\`(\`id\`) on delete cascade on update cascade, primary key (\`key\`));`);
    this.addSql(`create index \`contact_folder_cursor_pbx_id_index\` on \`contact_folder_cursor\` (\`pbx_id\`);`);
    this.addSql(`create index \`contact_folder_cursor_pbx_mailbox_index\` on \`contact_folder_cursor\` (\`pbx_id\`, \`mailbox_id\`);`);

    this.addSql(`create table \`contact_run_tally\` (\`run_id\` text not null, \`mailbox_id\` text not null, \`created\` integer not null default 0, \`updated\` integer not null default 0, \`deleted\` integer not null default 0, \`skipped\` integer not null default 0, \`failed\` integer not null default 0, constraint \`contact_run_tally_run_id_foreign\` foreign key(\`run_id\`) references \`sync_run\`(\`id\`) on delete cascade on update cascade, primary key (\`run_id\`, \`mailbox_id\`));`);
    this.addSql(`create index \`contact_run_tally_run_id_index\` on \`contact_run_tally\` (\`run_id\`);`);

    this.addSql(`alter table \`integration\` add column \`contact_sync_paused\` integer not null default false;`);

    this.addSql(`alter table \`sync_settings\` add column \`contact_rule\` text null;`);
    this.addSql(`alter table \`sync_settings\` add column \`contact_rule_saved_at\` datetime null;`);
  }

}
