import { Migration } from '@mikro-orm/migrations';

export class Migration20261207061318_operators extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "audit_entry" alter column "pbx_id" type varchar(36) using ("pbx_id"::varchar(36));`);
    this.addSql(`alter table "audit_entry" alter column "pbx_id" drop not null;`);

    this.addSql(`alter table "api_key" alter column "pbx_id" type varchar(36) using ("pbx_id"::varchar(36));`);
    this.addSql(`alter table "api_key" alter column "pbx_id" drop not null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "api_key" alter column "pbx_id" type varchar(36) using ("pbx_id"::varchar(36));`);
    this.addSql(`alter table "api_key" alter column "pbx_id" set not null;`);

    this.addSql(`alter table "audit_entry" alter column "pbx_id" type varchar(36) using ("pbx_id"::varchar(36));`);
    this.addSql(`alter table "audit_entry" alter column "pbx_id" set not null;`);
  }

}
