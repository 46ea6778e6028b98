import { Migration } from '@mikro-orm/migrations';

export class Migration20261207142357_linkus_sso extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "integration" add column "linkus_sso_enabled" boolean not null default false, add column "linkus_sso_redirect_uris" jsonb null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "integration" drop column "linkus_sso_enabled", drop column "linkus_sso_redirect_uris";`);
  }

}
