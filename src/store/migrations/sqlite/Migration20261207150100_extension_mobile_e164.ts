import { Migration } from '@mikro-orm/migrations';
import { toE164 } from '../../../domain/phone-number.js';

/**
 * Caller ID finds an extension by its mobile number (issue 13): `extension.mobile_e164` holds
 * it in E.164 under the PBX's default country (src/store/mobile-key.ts keeps it), indexed per
 * PBX; the extensions already there get theirs here.
 */
export class Migration20261207150100_extension_mobile_e164 extends Migration {
  override async up(): Promise<void> {
    await this.execute(`alter table "extension" add column "mobile_e164" text null;`);
    await this.execute(
      `create index "extension_pbx_mobile_e164_index" on "extension" ("pbx_id", "mobile_e164");`,
    );
    const rows = (await this.execute(
      'select e.id, e.mobile_number, p.default_country from extension e join pbx p on p.id = e.pbx_id where e.mobile_number is not null',
    )) as Array<{ id: string; mobile_number: string; default_country: string }>;
    for (const r of rows) {
      const key = toE164(r.mobile_number, r.default_country);
      if (key) await this.execute('update extension set mobile_e164 = ? where id = ?', [key, r.id]);
    }
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "extension_pbx_mobile_e164_index";`);
    this.addSql(`alter table "extension" drop column "mobile_e164";`);
  }
}
