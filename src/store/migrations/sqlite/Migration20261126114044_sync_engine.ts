import { Migration } from '@mikro-orm/migrations';

export class Migration20261126114044_sync_engine extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`directory_object\` (\`key\` text not null, \`pbx_id\` text not null, \`kind\` text not null, \`data\` text not null, constraint \`directory_object_pbx_id_foreign\` foreign key(\`pbx_id\`) references \`pbx\`(\`id\`) on delete cascade on update cascade, primary key (\`key\`));`);
    this.addSql(`create index \`directory_object_pbx_id_index\` on \`directory_object\` (\`pbx_id\`);`);
    this.addSql(`create index \`directory_object_pbx_kind_index\` on \`directory_object\` (\`pbx_id\`, \`kind\`);`);

    this.addSql(`create table \`sync_run\` (\`id\` text not null, \`pbx_id\` text not null, \`status\` text not null default 'QUEUED', \`mode\` text null, \`trigger\` text not null, \`scopes\` text not null, \`queued_at\` datetime not null, \`started_at\` datetime null, \`finished_at\` datetime null, \`counts\` text null, \`message\` text null, \`error\` text null, \`graph_requests\` integer null, \`phase\` text not null default 'QUEUED', \`done\` integer not null default 0, \`total\` integer not null default 0, constraint \`sync_run_pbx_id_foreign\` foreign key(\`pbx_id\`) references \`pbx\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`create index \`sync_run_pbx_id_index\` on \`sync_run\` (\`pbx_id\`);`);
    this.addSql(`create index \`sync_run_pbx_queued_index\` on \`sync_run\` (\`pbx_id\`, \`queued_at\`);`);

    this.addSql(`create table \`sync_run_item\` (\`id\` text not null, \`run_id\` text not null, \`seq\` integer not null, \`scope\` text not null, \`action\` text not null, \`reason\` text not null, \`object_id\` text not null, \`object_name\` text not null, \`object_secondary\` text null, \`number\` text null, \`target_id\` text null, \`detail\` text null, \`changes\` text null, \`state\` text not null default 'APPLIED', constraint \`sync_run_item_run_id_foreign\` foreign key(\`run_id\`) references \`sync_run\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`create index \`sync_run_item_run_id_index\` on \`sync_run_item\` (\`run_id\`);`);
    this.addSql(`create index \`sync_run_item_run_action_index\` on \`sync_run_item\` (\`run_id\`, \`action\`, \`seq\`);`);

    this.addSql(`create table \`sync_settings\` (\`id\` text not null, \`pbx_id\` text not null, \`user_rule\` text null, \`group_rule\` text null, \`user_rule_saved_at\` datetime null, \`group_rule_saved_at\` datetime null, \`users_delta_link\` text null, \`users_delta_select\` text null, \`groups_delta_link\` text null, \`last_full_read_at\` datetime null, \`guard_max_deletes\` integer not null default 10, \`guard_max_ratio\` double not null default 0.1, \`updated_at\` datetime not null, constraint \`sync_settings_pbx_id_foreign\` foreign key(\`pbx_id\`) references \`pbx\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`create unique index \`sync_settings_pbx_id_unique\` on \`sync_settings\` (\`pbx_id\`);`);
  }

}
