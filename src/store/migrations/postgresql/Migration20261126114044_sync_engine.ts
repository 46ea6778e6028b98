import { Migration } from '@mikro-orm/migrations';

export class Migration20261126114044_sync_engine extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "directory_object" ("key" varchar(120) not null, "pbx_id" varchar(36) not null, "kind" varchar(5) not null, "data" text not null, constraint "directory_object_pkey" primary key ("key"));`);
    this.addSql(`create index "directory_object_pbx_kind_index" on "directory_object" ("pbx_id", "kind");`);

    this.addSql(`create table "sync_run" ("id" varchar(36) not null, "pbx_id" varchar(36) not null, "status" varchar(16) not null default 'QUEUED', "mode" varchar(8) null, "trigger" varchar(16) not null, "scopes" varchar(32) not null, "queued_at" timestamptz not null, "started_at" timestamptz null, "finished_at" timestamptz null, "counts" text null, "message" varchar(2000) null, "error" varchar(2000) null, "graph_requests" int null, "phase" varchar(24) not null default 'QUEUED', "done" int not null default 0, "total" int not null default 0, constraint "sync_run_pkey" primary key ("id"));`);
    this.addSql(`create index "sync_run_pbx_queued_index" on "sync_run" ("pbx_id", "queued_at");`);

    this.addSql(`create table "sync_run_item" ("id" varchar(36) not null, "run_id" varchar(36) not null, "seq" int not null, "scope" varchar(5) not null, "action" varchar(10) not null, "reason" varchar(40) not null, "object_id" varchar(64) not null, "object_name" varchar(300) not null, "object_secondary" varchar(300) null, "number" varchar(7) null, "target_id" varchar(36) null, "detail" varchar(1000) null, "changes" text null, "state" varchar(10) not null default 'APPLIED', constraint "sync_run_item_pkey" primary key ("id"));`);
    this.addSql(`create index "sync_run_item_run_action_index" on "sync_run_item" ("run_id", "action", "seq");`);

    this.addSql(`create table "sync_settings" ("id" varchar(36) not null, "pbx_id" varchar(36) not null, "user_rule" text null, "group_rule" text null, "user_rule_saved_at" timestamptz null, "group_rule_saved_at" timestamptz null, "users_delta_link" text null, "users_delta_select" varchar(1000) null, "groups_delta_link" text null, "last_full_read_at" timestamptz null, "guard_max_deletes" int not null default 10, "guard_max_ratio" double precision not null default 0.1, "updated_at" timestamptz not null, constraint "sync_settings_pkey" primary key ("id"));`);
    this.addSql(`alter table "sync_settings" add constraint "sync_settings_pbx_id_unique" unique ("pbx_id");`);

    this.addSql(`alter table "directory_object" add constraint "directory_object_pbx_id_foreign" foreign key ("pbx_id") references "pbx" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "sync_run" add constraint "sync_run_pbx_id_foreign" foreign key ("pbx_id") references "pbx" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "sync_run_item" add constraint "sync_run_item_run_id_foreign" foreign key ("run_id") references "sync_run" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "sync_settings" add constraint "sync_settings_pbx_id_foreign" foreign key ("pbx_id") references "pbx" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "sync_run_item" drop constraint "sync_run_item_run_id_foreign";`);

    this.addSql(`drop table if exists "directory_object" cascade;`);

    this.addSql(`drop table if exists "sync_run" cascade;`);

    this.addSql(`drop table if exists "sync_run_item" cascade;`);

    this.addSql(`drop table if exists "sync_settings" cascade;`);
  }

}
