import { Migration } from '@mikro-orm/migrations';

export class Migration20261207115914_contacts extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`phonebook\` (\`id\` text not null, \`pbx_id\` text not null, \`name\` text not null, \`mailbox_id\` text null, \`synced\` integer not null default false, \`all_extensions\` integer not null default false, \`created_at\` datetime not null, \`updated_at\` datetime not null, constraint \`phonebook_pbx_id_foreign\` foreign key(\`pbx_id\`) references \`pbx\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`create index \`phonebook_pbx_id_index\` on \`phonebook\` (\`pbx_id\`);`);
    this.addSql(`create unique index \`phonebook_pbx_mailbox_unique\` on \`phonebook\` (\`pbx_id\`, \`mailbox_id\`);`);

    this.addSql(`create table \`contact\` (\`id\` text not null, \`pbx_id\` text not null, \`extension_id\` text null, \`phonebook_id\` text null, \`first_name\` text null, \`last_name\` text null, \`display_name\` text not null, \`company\` text null, \`job_title\` text null, \`emails\` text not null, \`numbers\` text not null, \`source_mailbox_id\` text null, \`source_folder_id\` text null, \`source_contact_id\` text null, \`change_key\` text null, \`synced\` integer not null default false, \`created_at\` datetime not null, \`updated_at\` datetime not null, constraint \`contact_pbx_id_foreign\` foreign key(\`pbx_id\`) references \`pbx\`(\`id\`) on delete cascade on update cascade, constraint \`contact_extension_id_foreign\` foreign key(\`extension_id\`) references \`extension\`(\`id\`) on delete cascade on update cascade, constraint \`contact_phonebook_id_foreign\` foreign key(\`phonebook_id\`) references \`phonebook\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`create index \`contact_extension_id_index\` on \`contact\` (\`extension_id\`);`);
    this.addSql(`create index \`contact_phonebook_id_index\` on \`contact\` (\`phonebook_id\`);`);
    this.addSql(`create index \`contact_pbx_index\` on \`contact\` (\`pbx_id\`);`);
    this.addSql(`create unique index \`contact_phonebook_source_unique\` on \`contact\` (\`phonebook_id\`, \`source_mailbox_id\`, \`source_folder_id\`, \`source_contact_id\`);`);
    this.addSql(`create unique index \`contact_extension_source_unique\` on \`contact\` (\`extension_id\`, \`source_mailbox_id\`, \`source_folder_id\`, \`source_contact_id\`);`);

    this.addSql(`create table \`contact_key\` (\`contact_id\` text not null, \`kind\` integer not null, \`term\` text not null, \`owner_id\` text not null, constraint \`contact_key_contact_id_foreign\` foreign key(\`contact_id\`) references \`contact\`(\`id\`) on delete cascade on update cascade, primary key (\`contact_id\`, \`kind\`, \`term\`));`);
    this.addSql(`create index \`contact_key_contact_id_index\` on \`contact_key\` (\`contact_id\`);`);
    this.addSql(`create index \`contact_key_owner_term_index\` on \`contact_key\` (\`owner_id\`, \`kind\`, \`term\`, \`contact_id\`);`);

    this.addSql(`create table \`phonebook_extension\` (\`phonebook_id\` text not null, \`extension_id\` text not null, constraint \`phonebook_extension_phonebook_id_foreign\` foreign key(\`phonebook_id\`) references \`phonebook\`(\`id\`) on delete cascade on update cascade, constraint \`phonebook_extension_extension_id_foreign\` foreign key(\`extension_id\`) references \`extension\`(\`id\`) on delete cascade on update cascade, primary key (\`phonebook_id\`, \`extension_id\`));`);
    this.addSql(`create index \`phonebook_extension_phonebook_id_index\` on \`phonebook_extension\` (\`phonebook_id\`);`);
    this.addSql(`create index \`phonebook_extension_extension_index\` on \`phonebook_extension\` (\`extension_id\`);`);

    this.addSql(`create table \`phonebook_extension_group\` (\`phonebook_id\` text not null, \`group_id\` text not null, constraint \`phonebook_extension_group_phonebook_id_foreign\` foreign key(\`phonebook_id\`) references \`phonebook\`(\`id\`) on delete cascade on update cascade, constraint \`phonebook_extension_group_group_id_foreign\` foreign key(\`group_id\`) references \`extension_group\`(\`id\`) on delete cascade on update cascade, primary key (\`phonebook_id\`, \`group_id\`));`);
    this.addSql(`create index \`phonebook_extension_group_phonebook_id_index\` on \`phonebook_extension_group\` (\`phonebook_id\`);`);
    this.addSql(`create index \`phonebook_extension_group_group_index\` on \`phonebook_extension_group\` (\`group_id\`);`);

    this.addSql(`alter table \`api_key\` add column \`extension_id\` text null constraint \`api_key_extension_id_foreign\` references \`extension\` (\`id\`) on update cascade on delete cascade;`);
    this.addSql(`create index \`api_key_extension_id_index\` on \`api_key\` (\`extension_id\`);`);
  }

}
