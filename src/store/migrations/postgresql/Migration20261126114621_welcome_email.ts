import { Migration } from '@mikro-orm/migrations';

export class Migration20261126114621_welcome_email extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "welcome_email" ("id" varchar(36) not null, "pbx_id" varchar(36) not null, "run_id" varchar(36) not null, "extension_id" varchar(36) not null, "number" varchar(7) not null, "name" varchar(200) not null, "recipient" varchar(254) null, "status" varchar(8) not null default 'QUEUED', "attempts" int not null default 0, "last_error" varchar(1000) null, "queued_at" timestamptz not null, "sent_at" timestamptz null, "updated_at" timestamptz not null, constraint "welcome_email_pkey" primary key ("id"));`);
    this.addSql(`create index "welcome_email_pbx_run_index" on "welcome_email" ("pbx_id", "run_id", "id");`);
    this.addSql(`alter table "welcome_email" add constraint "welcome_email_run_extension_unique" unique ("run_id", "extension_id");`);

    this.addSql(`alter table "welcome_email" add constraint "welcome_email_pbx_id_foreign" foreign key ("pbx_id") references "pbx" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "welcome_email" add constraint "welcome_email_run_id_foreign" foreign key ("run_id") references "sync_run" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "welcome_email" cascade;`);
  }

}
