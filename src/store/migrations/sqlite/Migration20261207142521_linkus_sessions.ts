import { Migration } from '@mikro-orm/migrations';

export class Migration20261207142521_linkus_sessions extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`linkus_signing_key\` (\`id\` text not null, \`sealed\` text not null, \`created_at\` datetime not null, primary key (\`id\`));`);

    this.addSql(`create table \`linkus_session\` (\`id\` text not null, \`pbx_id\` text not null, \`extension_id\` text not null, \`entra_object_id\` text not null, \`created_at\` datetime not null, \`last_used_at\` datetime not null, \`expires_at\` datetime not null, \`revoked_at\` datetime null, \`revoked_reason\` text null, constraint \`linkus_session_pbx_id_foreign\` foreign key(\`pbx_id\`) references \`pbx\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`create index \`linkus_session_pbx_id_index\` on \`linkus_session\` (\`pbx_id\`);`);
    this.addSql(`create index \`linkus_session_revoked_index\` on \`linkus_session\` (\`revoked_at\`);`);
    this.addSql(`create index \`linkus_session_extension_index\` on \`linkus_session\` (\`pbx_id\`, \`extension_id\`, \`created_at\`);`);

    this.addSql(`create table \`linkus_refresh_token\` (\`hash\` text not null, \`session_id\` text not null, \`created_at\` datetime not null, \`used_at\` datetime null, constraint \`linkus_refresh_token_session_id_foreign\` foreign key(\`session_id\`) references \`linkus_session\`(\`id\`) on delete cascade on update cascade, primary key (\`hash\`));`);
    this.addSql(`create index \`linkus_refresh_token_session_id_index\` on \`linkus_refresh_token\` (\`session_id\`);`);
  }

}
