import { Migration } from '@mikro-orm/migrations';

export class Migration20261126111537_initial extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`pbx\` (\`id\` text not null, \`name\` text not null, \`time_zone\` text not null default 'UTC', \`public_base_url\` text null, \`extension_capacity\` integer not null default 500, \`default_country\` text not null default 'US', \`created_at\` datetime not null, \`updated_at\` datetime not null, primary key (\`id\`));`);

    this.addSql(`create table \`integration\` (\`id\` text not null, \`pbx_id\` text not null, \`status\` text not null default 'NOT_CONNECTED', \`created_at\` datetime not null, \`updated_at\` datetime not null, constraint \`integration_pbx_id_foreign\` foreign key(\`pbx_id\`) references \`pbx\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`create unique index \`integration_pbx_id_unique\` on \`integration\` (\`pbx_id\`);`);

    this.addSql(`create table \`api_key\` (\`id\` text not null, \`pbx_id\` text not null, \`role\` text not null, \`hash\` text not null, \`prefix\` text not null, \`label\` text null, \`created_at\` datetime not null, \`revoked_at\` datetime null, constraint \`api_key_pbx_id_foreign\` foreign key(\`pbx_id\`) references \`pbx\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`create index \`api_key_pbx_id_index\` on \`api_key\` (\`pbx_id\`);`);
    this.addSql(`create unique index \`api_key_hash_unique\` on \`api_key\` (\`hash\`);`);
  }

}
