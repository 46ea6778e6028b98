import { Migration } from '@mikro-orm/migrations';

export class Migration20261126114620_welcome_email extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`welcome_email\` (\`id\` text not null, \`pbx_id\` text not null, \`run_id\` text not null, \`extension_id\` text not null, \`number\` text not null, \`name\` text not null, \`recipient\` text null, \`status\` text not null default 'QUEUED', \`attempts\` integer not null default 0, \`last_error\` text null, \`queued_at\` datetime not null, \`sent_at\` datetime null, \`updated_at\` datetime not null, constraint \`welcome_email_pbx_id_foreign\` foreign key(\`pbx_id\`) references \`pbx\`(\`id\`) on delete cascade on update cascade, constraint \`welcome_email_run_id_foreign\` foreign key(\`run_id\`) references \`sync_run\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`create index \`welcome_email_pbx_id_index\` on \`welcome_email\` (\`pbx_id\`);`);
    this.addSql(`create index \`welcome_email_run_id_index\` on \`welcome_email\` (\`run_id\`);`);
    this.addSql(`create index \`welcome_email_pbx_run_index\` on \`welcome_email\` (\`pbx_id\`, \`run_id\`, \`id\`);`);
    this.addSql(`create unique index \`welcome_email_run_extension_unique\` on \`welcome_email\` (\`run_id\`, \`extension_id\`);`);
  }

}
