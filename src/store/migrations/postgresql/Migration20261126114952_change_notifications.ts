import { Migration } from '@mikro-orm/migrations';

export class Migration20261126114952_change_notifications extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "graph_subscription" ("id" varchar(64) not null, "pbx_id" varchar(36) not null, "resource" varchar(32) not null, "expires_at" timestamptz not null, "client_state_hash" varchar(64) not null, "created_at" timestamptz not null, "renewed_at" timestamptz null, constraint "graph_subscription_pkey" primary key ("id"));`);
    this.addSql(`create index "graph_subscription_pbx_index" on "graph_subscription" ("pbx_id");`);

    this.addSql(`alter table "graph_subscription" add constraint "graph_subscription_pbx_id_foreign" foreign key ("pbx_id") references "pbx" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "sync_settings" add column "change_debounce_seconds" int not null default 600, add column "change_threshold" int not null default 10, add column "poll_minutes" int not null default 5, add column "last_polled_at" timestamptz null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "graph_subscription" cascade;`);

    this.addSql(`alter table "sync_settings" drop column "change_debounce_seconds", drop column "change_threshold", drop column "poll_minutes", drop column "last_polled_at";`);
  }

}
