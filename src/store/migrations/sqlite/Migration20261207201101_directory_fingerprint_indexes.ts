import { Migration } from '@mikro-orm/migrations';

export class Migration20261207201101_directory_fingerprint_indexes extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create index \`extension_pbx_source_index\` on \`extension\` (\`pbx_id\`, \`source\`);`);
    this.addSql(`create index \`extension_pbx_updated_at_index\` on \`extension\` (\`pbx_id\`, \`updated_at\`);`);
  }

}
