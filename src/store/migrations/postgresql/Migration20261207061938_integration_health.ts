import { Migration } from '@mikro-orm/migrations';

export class Migration20261207061938_integration_health extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "integration_health" ("id" varchar(36) not null, "pbx_id" varchar(36) not null, "codes" varchar(200) null, "missing_permissions" varchar(500) null, "message" varchar(1000) null, "checked_at" timestamptz null, "last_healthy_at" timestamptz null, constraint "integration_health_pkey" primary key ("id"));`);
    this.addSql(`alter table "integration_health" add constraint "integration_health_pbx_id_unique" unique ("pbx_id");`);

    this.addSql(`alter table "integration_health" add constraint "integration_health_pbx_id_foreign" foreign key ("pbx_id") references "pbx" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "integration_health" cascade;`);
  }

}
