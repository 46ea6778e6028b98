import { Migration } from '@mikro-orm/migrations';

export class Migration20261207144749_presence extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`extension_presence\` (\`extension_id\` text not null, \`pbx_id\` text not null, \`enabled\` integer not null default true, \`mapping\` text null, \`status\` text null, \`source\` text null, \`teams_availability\` text null, \`teams_activity\` text null, \`changed_at\` datetime null, \`updated_at\` datetime not null, constraint \`extension_presence_extension_id_foreign\` foreign key(\`extension_id\`) references \`extension\`(\`id\`) on delete cascade on update cascade, constraint \`extension_presence_pbx_id_foreign\` foreign key(\`pbx_id\`) references \`pbx\`(\`id\`) on delete cascade on update cascade, primary key (\`extension_id\`));`);
    this.addSql(`create index \`extension_presence_pbx_index\` on \`extension_presence\` (\`pbx_id\`);`);

    this.addSql(`create table \`presence_settings\` (\`pbx_id\` text not null, \`enabled\` integer not null default false, \`retry_at\` datetime null, \`updated_at\` datetime not null, constraint \`presence_settings_pbx_id_foreign\` foreign key(\`pbx_id\`) references \`pbx\`(\`id\`) on delete cascade on update cascade, primary key (\`pbx_id\`));`);
  }

}
