import { Migration } from '@mikro-orm/migrations';

export class Migration20261207061937_integration_health extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`integration_health\` (\`id\` text not null, \`pbx_id\` text not null, \`codes\` text null, \`missing_permissions\` text null, \`message\` text null, \`checked_at\` datetime null, \`last_healthy_at\` datetime null, constraint \`integration_health_pbx_id_foreign\` foreign key(\`pbx_id\`) references \`pbx\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`create unique index \`integration_health_pbx_id_unique\` on \`integration_health\` (\`pbx_id\`);`);
  }

}
