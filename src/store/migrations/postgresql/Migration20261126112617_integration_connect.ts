import { Migration } from '@mikro-orm/migrations';

export class Migration20261126112617_integration_connect extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "extension_group" ("id" varchar(36) not null, "pbx_id" varchar(36) not null, "name" varchar(128) not null, "source" varchar(16) not null default 'MANUAL', "external_id" varchar(64) null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "extension_group_pkey" primary key ("id"));`);
    this.addSql(`alter table "extension_group" add constraint "extension_group_pbx_external_id_unique" unique ("pbx_id", "external_id");`);
    this.addSql(`alter table "extension_group" add constraint "extension_group_pbx_name_unique" unique ("pbx_id", "name");`);

    this.addSql(`create table "extension" ("id" varchar(36) not null, "pbx_id" varchar(36) not null, "number" varchar(7) not null, "number_sort" int not null, "first_name" varchar(64) not null, "last_name" varchar(64) not null, "email" varchar(254) null, "email_key" varchar(254) null, "mobile_number" varchar(32) null, "job_title" varchar(128) null, "source" varchar(16) not null default 'MANUAL', "external_id" varchar(64) null, "caller_id_name" varchar(64) null, "voicemail_enabled" boolean not null default true, "notes" text null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "extension_pkey" primary key ("id"));`);
    this.addSql(`create index "extension_pbx_number_sort_index" on "extension" ("pbx_id", "number_sort");`);
    this.addSql(`alter table "extension" add constraint "extension_pbx_external_id_unique" unique ("pbx_id", "external_id");`);
    this.addSql(`alter table "extension" add constraint "extension_pbx_email_key_unique" unique ("pbx_id", "email_key");`);
    this.addSql(`alter table "extension" add constraint "extension_pbx_number_unique" unique ("pbx_id", "number");`);

    this.addSql(`create table "extension_group_member" ("group_id" varchar(36) not null, "extension_id" varchar(36) not null, constraint "extension_group_member_pkey" primary key ("group_id", "extension_id"));`);
    this.addSql(`create index "extension_group_member_extension_index" on "extension_group_member" ("extension_id");`);

    this.addSql(`create table "audit_entry" ("id" varchar(36) not null, "pbx_id" varchar(36) not null, "key_id" varchar(36) null, "role" varchar(16) not null, "operation" varchar(100) not null, "arguments" jsonb not null, "outcome" varchar(64) not null, "message" varchar(1000) null, "request_id" varchar(36) null, "at" timestamptz not null, constraint "audit_entry_pkey" primary key ("id"));`);
    this.addSql(`create index "audit_entry_pbx_at_index" on "audit_entry" ("pbx_id", "at", "id");`);

    this.addSql(`alter table "extension_group" add constraint "extension_group_pbx_id_foreign" foreign key ("pbx_id") references "pbx" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "extension" add constraint "extension_pbx_id_foreign" foreign key ("pbx_id") references "pbx" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "extension_group_member" add constraint "extension_group_member_group_id_foreign" foreign key ("group_id") references "extension_group" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "extension_group_member" add constraint "extension_group_member_extension_id_foreign" foreign key ("extension_id") references "extension" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "audit_entry" add constraint "audit_entry_pbx_id_foreign" foreign key ("pbx_id") references "pbx" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "integration" add column "user_sync_paused" boolean not null default false, add column "group_sync_paused" boolean not null default false, add column "client_id" varchar(36) null, add column "tenant_id" varchar(36) null, add column "secret_sealed" text null, add column "secret_last4" varchar(4) null, add column "secret_expires_at" timestamptz null, add column "token_cache_sealed" text null, add column "account_username" varchar(320) null, add column "account_name" varchar(256) null, add column "account_oid" varchar(36) null, add column "account_home_id" varchar(128) null, add column "organization_id" varchar(36) null, add column "organization_name" varchar(256) null, add column "directory_group_count" int null, add column "connected_at" timestamptz null, add column "last_error_code" varchar(64) null, add column "last_error_message" varchar(1000) null, add column "last_error_at" timestamptz null, add column "warnings" varchar(200) null, add column "warnings_checked_at" timestamptz null, add column "connect_attempt" varchar(32) null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "extension_group_member" drop constraint "extension_group_member_group_id_foreign";`);

    this.addSql(`alter table "extension_group_member" drop constraint "extension_group_member_extension_id_foreign";`);

    this.addSql(`drop table if exists "extension_group" cascade;`);

    this.addSql(`drop table if exists "extension" cascade;`);

    this.addSql(`drop table if exists "extension_group_member" cascade;`);

    this.addSql(`drop table if exists "audit_entry" cascade;`);

    this.addSql(`alter table "integration" drop column "user_sync_paused", drop column "group_sync_paused", drop column "client_id", drop column "tenant_id", drop column "secret_sealed", drop column "secret_last4", drop column "secret_expires_at", drop column "token_cache_sealed", drop column "account_username", drop column "account_name", drop column "account_oid", drop column "account_home_id", drop column "organization_id", drop column "organization_name", drop column "directory_group_count", drop column "connected_at", drop column "last_error_code", drop column "last_error_message", drop column "last_error_at", drop column "warnings", drop column "warnings_checked_at", drop column "connect_attempt";`);
  }

}
