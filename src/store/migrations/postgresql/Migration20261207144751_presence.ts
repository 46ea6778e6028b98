import { Migration } from '@mikro-orm/migrations';

export class Migration20261207144751_presence extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "extension_presence" ("extension_id" varchar(36) not null, "pbx_id" varchar(36) not null, "enabled" boolean not null default true, "mapping" text null, "status" varchar(16) null, "source" varchar(8) null, "teams_availability" varchar(32) null, "teams_activity" varchar(32) null, "changed_at" timestamptz null, "updated_at" timestamptz not null, constraint "extension_presence_pkey" primary key ("extension_id"));`);
    this.addSql(`create index "extension_presence_pbx_index" on "extension_presence" ("pbx_id");`);

    this.addSql(`create table "presence_settings" ("pbx_id" varchar(36) not null, "enabled" boolean not null default false, "retry_at" timestamptz null, "updated_at" timestamptz not null, constraint "presence_settings_pkey" primary key ("pbx_id"));`);

    this.addSql(`alter table "extension_presence" add constraint "extension_presence_extension_id_foreign" foreign key ("extension_id") references "extension" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "extension_presence" add constraint "extension_presence_pbx_id_foreign" foreign key ("pbx_id") references "pbx" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "presence_settings" add constraint "presence_settings_pbx_id_foreign" foreign key ("pbx_id") references "pbx" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "extension_presence" cascade;`);

    this.addSql(`drop table if exists "presence_settings" cascade;`);
  }

}
