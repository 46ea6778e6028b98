import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/knex';
import { toE164 } from '../domain/phone-number.js';
import { readRows } from './raw-read.js';

/**
 * `extension.mobile_e164`: an extension's mobile number in E.164 under its PBX's default
 * country, so that caller ID finds the extension of a mobile number with one index probe
 * (`extension_pbx_mobile_e164_index`), however the number was written in Entra ID. Kept by
 * every write of `mobile_number` (the directory applier, createExtension, updateExtension)
 * and made again for the whole PBX when its default country changes.
 */
export const mobileE164 = (mobileNumber: string | null | undefined, country: string): string | null =>
  mobileNumber ? toE164(mobileNumber, country) : null;

export async function pbxCountry(em: EntityManager, pbxId: string): Promise<string> {
  const [row] = await readRows(em, 'select default_country from pbx where id = ?', [pbxId], {
    prepared: true,
  });
  return (row?.default_country as string | undefined) ?? 'US';
}

/** Rows per page when a PBX's mobile keys are made again. */
const PAGE = 1000;

/** Makes `mobile_e164` again for `pbxId`'s extensions (all, or those of `ids`). */
export async function refreshMobileKeys(em: EntityManager, pbxId: string, ids?: readonly string[]) {
  const sqlEm = em as SqlEntityManager;
  const country = await pbxCountry(em, pbxId);
  const update = async (rows: Array<Record<string, unknown>>) => {
    for (const r of rows) {
      const key = mobileE164(r.mobile_number as string | null, country);
      if (key !== ((r.mobile_e164 as string | null) ?? null)) {
        await sqlEm.execute('update extension set mobile_e164 = ? where id = ?', [key, r.id], 'run');
      }
    }
  };
  if (ids) {
    for (let i = 0; i < ids.length; i += 500) {
      const part = ids.slice(i, i + 500);
      await update(
        await readRows(
          em,
          `select id, mobile_number, mobile_e164 from extension where pbx_id = ? and id in (${part.map(() => '?').join(', ')})`,
          [pbxId, ...part],
        ),
      );
    }
    return;
  }
  let after = '';
  for (;;) {
    const rows = await readRows(
      em,
      `select id, mobile_number, mobile_e164 from extension where pbx_id = ? and id > ? order by id limit ${PAGE}`,
      [pbxId, after],
    );
    await update(rows);
    if (rows.length < PAGE) return;
    after = rows[rows.length - 1].id as string;
  }
}
