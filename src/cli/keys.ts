/**
 * `npm run keys -- create --pbx <id> --role admin|viewer|linkus [--label text]`
 *   prints a new key once (only its hash is stored).
 * `npm run keys -- pbx-list` lists the PBXs and their ids.
 */
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { createApiKey } from '../app/access.js';
import { AppError } from '../app/errors.js';
import { ConfigError, loadConfig } from '../config.js';
import { openDatabase } from '../store/orm.js';
import { openStore } from '../store/store.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { pbx: { type: 'string' }, role: { type: 'string' }, label: { type: 'string' } },
});

async function main() {
  const config = loadConfig(process.env, []);
  const orm = await openDatabase(config.database);
  try {
    const store = openStore(orm);
    switch (positionals[0]) {
      case 'create': {
        if (!values.pbx || !values.role)
          throw new Error('usage: keys create --pbx <id> --role admin|viewer|linkus');
        const created = await createApiKey(store, {
          pbxId: values.pbx,
          role: values.role,
          label: values.label,
        });
        console.log(created.key);
        break;
      }
      case 'pbx-list':
        for (const p of await store.tenants.listPbxs()) console.log(`${p.id}\t${p.name}\t${p.timeZone}`);
        break;
      default:
        throw new Error('usage: keys create --pbx <id> --role admin|viewer|linkus | keys pbx-list');
    }
  } finally {
    await orm.close(true);
  }
}

main().catch((err) => {
  console.error(err instanceof ConfigError || err instanceof AppError ? err.message : (err as Error).message);
  process.exit(1);
});
