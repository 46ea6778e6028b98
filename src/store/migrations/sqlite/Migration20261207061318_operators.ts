import { Migration } from '@mikro-orm/migrations';

export class Migration20261207061318_operators extends Migration {

  override async up(): Promise<void> {
    // SQLite cannot drop NOT NULL in place: each table is rebuilt. The generator's
    // `pragma foreign_keys = off/on` lines are left out: migrations run in a transaction, where
    // that pragma does nothing, and no table references api_key or audit_entry.
    this.addSql(`create table \`audit_entry__temp_alter\` (\`id\` text not null, \`pbx_id\` text null, \`key_id\` text null, \`role\` text not null, \`operation\` text not null, \`arguments\` json not null, \`outcome\` text not null, \`message\` text null, \`request_id\` text null, \`at\` datetime not null, constraint \`audit_entry_pbx_id_foreign\` foreign key(\`pbx_id\`) references \`pbx\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`insert into \`audit_entry__temp_alter\` select \`id\`, \`pbx_id\`, \`key_id\`, \`role\`, \`operation\`, \`arguments\`, \`outcome\`, \`message\`, \`request_id\`, \`at\` from \`audit_entry\`;`);
    this.addSql(`drop table \`audit_entry\`;`);
    this.addSql(`alter table \`audit_entry__temp_alter\` rename to \`audit_entry\`;`);
    this.addSql(`create index \`audit_entry_pbx_id_index\` on \`audit_entry\` (\`pbx_id\`);`);
    this.addSql(`create index \`audit_entry_pbx_at_index\` on \`audit_entry\` (\`pbx_id\`, \`at\`, \`id\`);`);
    this.addSql(`create table \`api_key__temp_alter\` (\`id\` text not null, \`pbx_id\` text null, \`role\` text not null, \`hash\` text not null, \`prefix\` text not null, \`label\` text null, \`created_at\` datetime not null, \`revoked_at\` datetime null, constraint \`api_key_pbx_id_foreign\` foreign key(\`pbx_id\`) references \`pbx\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`insert into \`api_key__temp_alter\` select \`id\`, \`pbx_id\`, \`role\`, \`hash\`, \`prefix\`, \`label\`, \`created_at\`, \`revoked_at\` from \`api_key\`;`);
    this.addSql(`drop table \`api_key\`;`);
    this.addSql(`alter table \`api_key__temp_alter\` rename to \`api_key\`;`);
    this.addSql(`create index \`api_key_pbx_id_index\` on \`api_key\` (\`pbx_id\`);`);
    this.addSql(`create unique index \`api_key_hash_unique\` on \`api_key\` (\`hash\`);`);
  }

}
