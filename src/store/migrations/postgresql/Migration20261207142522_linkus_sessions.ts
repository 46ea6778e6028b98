import { Migration } from '@mikro-orm/migrations';

export class Migration20261207142522_linkus_sessions extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "linkus_signing_key" ("id" varchar(36) not null, "sealed" text not null, "created_at" timestamptz not null, constraint "linkus_signing_key_pkey" primary key ("id"));`);

    this.addSql(`create table "linkus_session" ("id" varchar(36) not null, "pbx_id" varchar(36) not null, "extension_id" varchar(36) not null, "entra_object_id" varchar(64) not null, "created_at" timestamptz not null, "last_used_at" timestamptz not null, "expires_at" timestamptz not null, "revoked_at" timestamptz null, "revoked_reason" varchar(40) null, constraint "linkus_session_pkey" primary key ("id"));`);
    this.addSql(`create index "linkus_session_revoked_index" on "linkus_session" ("revoked_at");`);
    this.addSql(`create index "linkus_session_extension_index" on "linkus_session" ("pbx_id", "extension_id", "created_at");`);

    this.addSql(`create table "linkus_refresh_token" ("hash" varchar(64) not null, "session_id" varchar(36) not null, "created_at" timestamptz not null, "used_at" timestamptz null, constraint "linkus_refresh_token_pkey" primary key ("hash"));`);
    this.addSql(`create index "linkus_refresh_token_session_id_index" on "linkus_refresh_token" ("session_id");`);

    this.addSql(`alter table "linkus_session" add constraint "linkus_session_pbx_id_foreign" foreign key ("pbx_id") references "pbx" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "linkus_refresh_token" add constraint "linkus_refresh_token_session_id_foreign" foreign key ("session_id") references "linkus_session" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "linkus_refresh_token" drop constraint "linkus_refresh_token_session_id_foreign";`);

    this.addSql(`drop table if exists "linkus_signing_key" cascade;`);

    this.addSql(`drop table if exists "linkus_session" cascade;`);

    this.addSql(`drop table if exists "linkus_refresh_token" cascade;`);
  }

}
