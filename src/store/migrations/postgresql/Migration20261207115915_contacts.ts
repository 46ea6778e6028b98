import { Migration } from '@mikro-orm/migrations';

export class Migration20261207115915_contacts extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "phonebook" ("id" varchar(36) not null, "pbx_id" varchar(36) not null, "name" varchar(128) not null, "mailbox_id" varchar(64) null, "synced" boolean not null default false, "all_extensions" boolean not null default false, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "phonebook_pkey" primary key ("id"));`);
    this.addSql(`alter table "phonebook" add constraint "phonebook_pbx_mailbox_unique" unique ("pbx_id", "mailbox_id");`);

    this.addSql(`create table "contact" ("id" varchar(36) not null, "pbx_id" varchar(36) not null, "extension_id" varchar(36) null, "phonebook_id" varchar(36) null, "first_name" varchar(128) null, "last_name" varchar(128) null, "display_name" varchar(256) not null, "company" varchar(256) null, "job_title" varchar(128) null, "emails" text not null, "numbers" text not null, "source_mailbox_id" varchar(64) null, "source_folder_id" varchar(255) null, "source_contact_id" varchar(255) null, "change_key" varchar(255) null, "synced" boolean not null default false, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "contact_pkey" primary key ("id"));`);
    this.addSql(`create index "contact_pbx_index" on "contact" ("pbx_id");`);
    this.addSql(`alter table "contact" add constraint "contact_phonebook_source_unique" unique ("phonebook_id", "source_mailbox_id", "source_folder_id", "source_contact_id");`);
    this.addSql(`alter table "contact" add constraint "contact_extension_source_unique" unique ("extension_id", "source_mailbox_id", "source_folder_id", "source_contact_id");`);

    this.addSql(`create table "contact_key" ("contact_id" varchar(36) not null, "kind" smallint not null, "term" varchar(64) not null, "owner_id" varchar(36) not null, constraint "contact_key_pkey" primary key ("contact_id", "kind", "term"));`);
    this.addSql(`create index "contact_key_owner_term_index" on "contact_key" ("owner_id", "kind", "term", "contact_id");`);

    this.addSql(`create table "phonebook_extension" ("phonebook_id" varchar(36) not null, "extension_id" varchar(36) not null, constraint "phonebook_extension_pkey" primary key ("phonebook_id", "extension_id"));`);
    this.addSql(`create index "phonebook_extension_extension_index" on "phonebook_extension" ("extension_id");`);

    this.addSql(`create table "phonebook_extension_group" ("phonebook_id" varchar(36) not null, "group_id" varchar(36) not null, constraint "phonebook_extension_group_pkey" primary key ("phonebook_id", "group_id"));`);
    this.addSql(`create index "phonebook_extension_group_group_index" on "phonebook_extension_group" ("group_id");`);

    this.addSql(`alter table "phonebook" add constraint "phonebook_pbx_id_foreign" foreign key ("pbx_id") references "pbx" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "contact" add constraint "contact_pbx_id_foreign" foreign key ("pbx_id") references "pbx" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "contact" add constraint "contact_extension_id_foreign" foreign key ("extension_id") references "extension" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "contact" add constraint "contact_phonebook_id_foreign" foreign key ("phonebook_id") references "phonebook" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "contact_key" add constraint "contact_key_contact_id_foreign" foreign key ("contact_id") references "contact" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "phonebook_extension" add constraint "phonebook_extension_phonebook_id_foreign" foreign key ("phonebook_id") references "phonebook" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "phonebook_extension" add constraint "phonebook_extension_extension_id_foreign" foreign key ("extension_id") references "extension" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "phonebook_extension_group" add constraint "phonebook_extension_group_phonebook_id_foreign" foreign key ("phonebook_id") references "phonebook" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "phonebook_extension_group" add constraint "phonebook_extension_group_group_id_foreign" foreign key ("group_id") references "extension_group" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "api_key" add column "extension_id" varchar(36) null;`);
    this.addSql(`alter table "api_key" add constraint "api_key_extension_id_foreign" foreign key ("extension_id") references "extension" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "contact" drop constraint "contact_phonebook_id_foreign";`);

    this.addSql(`alter table "phonebook_extension" drop constraint "phonebook_extension_phonebook_id_foreign";`);

    this.addSql(`alter table "phonebook_extension_group" drop constraint "phonebook_extension_group_phonebook_id_foreign";`);

    this.addSql(`alter table "contact_key" drop constraint "contact_key_contact_id_foreign";`);

    this.addSql(`drop table if exists "phonebook" cascade;`);

    this.addSql(`drop table if exists "contact" cascade;`);

    this.addSql(`drop table if exists "contact_key" cascade;`);

    this.addSql(`drop table if exists "phonebook_extension" cascade;`);

    this.addSql(`drop table if exists "phonebook_extension_group" cascade;`);

    this.addSql(`alter table "api_key" drop constraint "api_key_extension_id_foreign";`);

    this.addSql(`alter table "api_key" drop column "extension_id";`);
  }

}
