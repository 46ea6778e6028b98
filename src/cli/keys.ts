/**
 * `npm run keys -- create --pbx <id> --role admin|viewer|linkus [--label text]`
 *   prints a new key once (only its hash is stored).
 * `npm run keys -- pbx-list` lists the PBXs and their ids.
 * `npm run keys -- generate-secret-key` prints a new SECRET_KEY (32 random bytes, base64).
 * `npm run keys -- rotate-secret-key` re-encrypts every stored secret under a new key, in one
 *   transaction. With SECRET_KEY_FILE the file is replaced (the new key is written to
 *   `<file>.new` first, so a crash never loses it); with SECRET_KEY the new key is printed.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createApiKey } from '../app/access.js';
import { AppError } from '../app/errors.js';
import { resealSecrets } from '../app/integration.js';
import { SecretBox } from '../app/secret-box.js';
import { ConfigError, loadConfig, parseSecretKey } from '../config.js';
import { openDatabase } from '../store/orm.js';
import { openStore } from '../store/store.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    pbx: { type: 'string' },
    role: { type: 'string' },
    label: { type: 'string' },
    'new-key': { type: 'string' },
  },
});

async function main() {
  if (positionals[0] === 'generate-secret-key') {
    console.log(randomBytes(32).toString('base64'));
    return;
  }
  const config = loadConfig(process.env, []);
  const orm = await openDatabase(config.database);
  try {
    const store = openStore(orm, () => new Date());
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
      case 'rotate-secret-key': {
        const nextText = values['new-key'] ?? randomBytes(32).toString('base64');
        const current = new SecretBox(config.secretKey.key);
        const next = new SecretBox(parseSecretKey(nextText));
        const file = config.secretKey.file;
        if (file) writeFileSync(`${file}.new`, `${nextText}\n`, { mode: 0o600 });
        const count = await resealSecrets(store, current, next);
        if (file) {
          renameSync(`${file}.new`, file);
          console.log(
            `Re-encrypted ${count} integration(s) under key ${next.keyId}; ${file} now holds the new key.`,
          );
        } else {
          console.log(`Re-encrypted ${count} integration(s) under key ${next.keyId}.`);
          console.log(`Set SECRET_KEY to this value before the gateway starts again:\n${nextText}`);
        }
        break;
      }
      case 'pbx-list':
        for (const p of await store.tenants.listPbxs()) console.log(`${p.id}\t${p.name}\t${p.timeZone}`);
        break;
      default:
        throw new Error(
          'usage: keys create --pbx <id> --role admin|viewer|linkus | pbx-list | generate-secret-key | rotate-secret-key [--new-key <key>]',
        );
    }
  } finally {
    await orm.close(true);
  }
}

main().catch((err) => {
  console.error(err instanceof ConfigError || err instanceof AppError ? err.message : (err as Error).message);
  process.exit(1);
});
