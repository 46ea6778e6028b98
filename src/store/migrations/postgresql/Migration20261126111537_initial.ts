import { Migration } from '@mikro-orm/migrations';

export class Migration20261126111537_initial extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "pbx" ("id" varchar(36) not null, "name" varchar(200) not null, "time_zone" varchar(64) not null default 'UTC', "public_base_url" varchar(500) null, "extension_capacity" int not null default 500, "default_country" varchar(2) not null default 'US', "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "pbx_pkey" primary key ("id"));`);

    this.addSql(`create table "integration" ("id" varchar(36) not null, "pbx_id" varchar(36) not null, "status" varchar(32) not null default 'NOT_CONNECTED', "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "integration_pkey" primary key ("id"));`);
    this.addSql(`alter table "integration" add constraint "integration_pbx_id_unique" unique ("pbx_id");`);

    this.addSql(`create table "api_key" ("id" varchar(36) not null, "pbx_id" varchar(36) not null, "role" varchar(16) not null, "hash" varchar(64) not null, "prefix" varchar(16) not null, "label" varchar(200) null, "created_at" timestamptz not null, "revoked_at" timestamptz null, constraint "api_key_pkey" primary key ("id"));`);
    this.addSql(`alter table "api_key" add constraint "api_key_hash_unique" unique ("hash");`);

    this.addSql(`alter table "integration" add constraint "integration_pbx_id_foreign" foreign key ("pbx_id") references "pbx" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "api_key" add constraint "api_key_pbx_id_foreign" foreign key ("pbx_id") references "pbx" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "integration" drop constraint "integration_pbx_id_foreign";`);

    this.addSql(`alter table "api_key" drop constraint "api_key_pbx_id_foreign";`);

    this.addSql(`drop table if exists "pbx" cascade;`);

    this.addSql(`drop table if exists "integration" cascade;`);

    this.addSql(`drop table if exists "api_key" cascade;`);
  }

}
