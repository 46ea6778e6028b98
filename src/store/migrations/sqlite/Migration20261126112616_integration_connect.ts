import { Migration } from '@mikro-orm/migrations';

export class Migration20261126112616_integration_connect extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`extension_group\` (\`id\` text not null, \`pbx_id\` text not null, \`name\` text not null, \`source\` text not null default 'MANUAL', \`external_id\` text null, \`created_at\` datetime not null, \`updated_at\` datetime not null, constraint \`extension_group_pbx_id_foreign\` foreign key(\`pbx_id\`) references \`pbx\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`create index \`extension_group_pbx_id_index\` on \`extension_group\` (\`pbx_id\`);`);
    this.addSql(`create unique index \`extension_group_pbx_external_id_unique\` on \`extension_group\` (\`pbx_id\`, \`external_id\`);`);
    this.addSql(`create unique index \`extension_group_pbx_name_unique\` on \`extension_group\` (\`pbx_id\`, \`name\`);`);

    this.addSql(`create table \`extension\` (\`id\` text not null, \`pbx_id\` text not null, \`number\` text not null, \`number_sort\` integer not null, \`first_name\` text not null, \`last_name\` text not null, \`email\` text null, \`email_key\` text null, \`mobile_number\` text null, \`job_title\` text null, \`source\` text not null default 'MANUAL', \`external_id\` text null, \`caller_id_name\` text null, \`voicemail_enabled\` integer not null default true, \`notes\` text null, \`created_at\` datetime not null, \`updated_at\` datetime not null, constraint \`extension_pbx_id_foreign\` foreign key(\`pbx_id\`) references \`pbx\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`create index \`extension_pbx_id_index\` on \`extension\` (\`pbx_id\`);`);
    this.addSql(`create index \`extension_pbx_number_sort_index\` on \`extension\` (\`pbx_id\`, \`number_sort\`);`);
    this.addSql(`create unique index \`extension_pbx_external_id_unique\` on \`extension\` (\`pbx_id\`, \`external_id\`);`);
    this.addSql(`create unique index \`extension_pbx_email_key_unique\` on \`extension\` (\`pbx_id\`, \`email_key\`);`);
    this.addSql(`create unique index \`extension_pbx_number_unique\` on \`extension\` (\`pbx_id\`, \`number\`);`);

    this.addSql(`create table \`extension_group_member\` (\`group_id\` text not null, \`extension_id\` text not null, constraint \`extension_group_member_group_id_foreign\` foreign key(\`group_id\`) references \`extension_group\`(\`id\`) on delete cascade on update cascade, constraint \`extension_group_member_extension_id_foreign\` foreign key(\`extension_id\`) references \`extension\`(\`id\`) on delete cascade on update cascade, primary key (\`group_id\`, \`extension_id\`));`);
    this.addSql(`create index \`extension_group_member_group_id_index\` on \`extension_group_member\` (\`group_id\`);`);
    this.addSql(`create index \`extension_group_member_extension_index\` on \`extension_group_member\` (\`extension_id\`);`);

    this.addSql(`create table \`audit_entry\` (\`id\` text not null, \`pbx_id\` text not null, \`key_id\` text null, \`role\` text not null, \`operation\` text not null, \`arguments\` json not null, \`outcome\` text not null, \`message\` text null, \`request_id\` text null, \`at\` datetime not null, constraint \`audit_entry_pbx_id_foreign\` foreign key(\`pbx_id\`) references \`pbx\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`create index \`audit_entry_pbx_id_index\` on \`audit_entry\` (\`pbx_id\`);`);
    this.addSql(`create index \`audit_entry_pbx_at_index\` on \`audit_entry\` (\`pbx_id\`, \`at\`, \`id\`);`);

    this.addSql(`alter table \`integration\` add column \`user_sync_paused\` integer not null default false;`);
    this.addSql(`alter table \`integration\` add column \`group_sync_paused\` integer not null default false;`);
    this.addSql(`alter table \`integration\` add column \`client_id\` text null;`);
    this.addSql(`alter table \`integration\` add column \`tenant_id\` text null;`);
    this.addSql(`alter table \`integration\` add column \`secret_sealed\` text null;`);
    this.addSql(`alter table \`integration\` add column \`secret_last4\` text null;`);
    this.addSql(`alter table \`integration\` add column \`secret_expires_at\` datetime null;`);
    this.addSql(`alter table \`integration\` add column \`token_cache_sealed\` text null;`);
    this.addSql(`alter table \`integration\` add column \`account_username\` text null;`);
    this.addSql(`alter table \`integration\` add column \`account_name\` text null;`);
    this.addSql(`alter table \`integration\` add column \`account_oid\` text null;`);
    this.addSql(`alter table \`integration\` add column \`account_home_id\` text null;`);
    this.addSql(`alter table \`integration\` add column \`organization_id\` text null;`);
    this.addSql(`alter table \`integration\` add column \`organization_name\` text null;`);
    this.addSql(`alter table \`integration\` add column \`directory_group_count\` integer null;`);
    this.addSql(`alter table \`integration\` add column \`connected_at\` datetime null;`);
    this.addSql(`alter table \`integration\` add column \`last_error_code\` text null;`);
    this.addSql(`alter table \`integration\` add column \`last_error_message\` text null;`);
    this.addSql(`alter table \`integration\` add column \`last_error_at\` datetime null;`);
    this.addSql(`alter table \`integration\` add column \`warnings\` text null;`);
    this.addSql(`alter table \`integration\` add column \`warnings_checked_at\` datetime null;`);
    this.addSql(`alter table \`integration\` add column \`connect_attempt\` text null;`);
  }

}
