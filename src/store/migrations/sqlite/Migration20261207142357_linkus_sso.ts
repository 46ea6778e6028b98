import { Migration } from '@mikro-orm/migrations';

export class Migration20261207142357_linkus_sso extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table \`integration\` add column \`linkus_sso_enabled\` integer not null default false;`);
    this.addSql(`alter table \`integration\` add column \`linkus_sso_redirect_uris\` json null;`);
  }

}
