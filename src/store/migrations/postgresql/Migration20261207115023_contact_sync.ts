import { Migration } from '@mikro-orm/migrations';

export class Migration20261207115023_contact_sync extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "contact_folder_cursor" ("key" varchar(400) not null, "pbx_id" varchar(36) not null, "mailbox_id" varchar(64) not null, "folder_id" varchar(300) not null, "kind" varchar(8) not null, "owner_kind" varchar(10) not null, "owner_id" varchar(36) not null, "delta_link" text null, "updated_at" timestamptz not null, constraint "contact_folder_cursor_pkey" primary key ("key"));`);
    this.addSql(`create index "contact_folder_cursor_pbx_mailbox_index" on "contact_folder_cursor" ("pbx_id", "mailbox_id");`);

    this.addSql(`create table "contact_run_tally" ("run_id" varchar(36) not null, "mailbox_id" varchar(64) not null, "created" int not null default 0, "updated" int not null default 0, "deleted" int not null default 0, "skipped" int not null default 0, "failed" int not null default 0, constraint "contact_run_tally_pkey" primary key ("run_id", "mailbox_id"));`);

    this.addSql(`alter table "contact_folder_cursor" add constraint "contact_folder_cursor_pbx_id_foreign" foreign key ("pbx_id") references "pbx" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "contact_run_tally" add constraint "contact_run_tally_run_id_foreign" foreign key ("run_id") references "sync_run" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "integration" add column "contact_sync_paused" boolean not null default false;`);

    this.addSql(`alter table "sync_run_item" alter column "scope" type varchar(10) using ("scope"::varchar(10));`);

    this.addSql(`alter table "sync_settings" add column "contact_rule" text null, add column "contact_rule_saved_at" timestamptz null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "contact_folder_cursor" cascade;`);

    this.addSql(`drop table if exists "contact_run_tally" cascade;`);

    this.addSql(`alter table "integration" drop column "contact_sync_paused";`);

    this.addSql(`alter table "sync_run_item" alter column "scope" type varchar(5) using ("scope"::varchar(5));`);

    this.addSql(`alter table "sync_settings" drop column "contact_rule", drop column "contact_rule_saved_at";`);
  }

}
