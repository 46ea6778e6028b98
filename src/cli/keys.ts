/**
 * `npm run keys -- create --pbx <id> --role admin|viewer|linkus [--label text]`
 *   prints a new key once (only its hash is stored).
 * `npm run keys -- pbx-list` lists the PBXs and their ids.
 * `npm run keys -- generate-secret-key` prints a new SECRET_KEY (32 random bytes, base64).
 * `npm run keys -- rotate-secret-key [--new-key <key>]` moves the stored secrets to a new key
 *   while gateways run:
 *   - with SECRET_KEY_FILE: the file gets the new key on its first line, the keys it held
 *     after it (written to `<file>.new`, mode 0600, then renamed: a crash never loses a key);
 *     running gateways read the file again within a second or two and seal with the new key;
 *     then every value sealed with an older key is sealed again with the new one.
 *   - with SECRET_KEY=new,old[,...] (set on every gateway first, see the README): every value
 *     sealed with an older key is sealed again with the first. With one key in SECRET_KEY it
 *     explains the steps and changes nothing.
 *   Values are re-sealed one at a time, compare-and-set: a value a gateway wrote meanwhile is
 *   never overwritten. Gateways whose SECRET_KEY lists older keys do the same in the background.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { chmodSync, renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createApiKey } from '../app/access.js';
import { AppError } from '../app/errors.js';
import { type ResealReport, resealStoredSecrets, SecretBox } from '../app/secret-box.js';
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
    'settle-ms': { type: 'string' },
  },
});

const describeReport = (r: ResealReport, keyId: string) =>
  [
    `Re-sealed ${r.resealed} value(s) under key ${keyId} (${r.current} already were).`,
    ...(r.unreadable.length
      ? [
          `${r.unreadable.length} value(s) open with no configured key and were left as they are: ${r.unreadable
            .map((u) => `${u.pbxId} ${u.field} (key ${u.keyId})`)
            .join(', ')}`,
        ]
      : []),
    ...(r.remaining ? [`${r.remaining} value(s) changed while re-sealing; run the command again.`] : []),
  ].join('\n');

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
        const file = config.secretKey.file;
        const configured = [config.secretKey.key, ...config.secretKey.previous];
        if (file) {
          const nextText = values['new-key'] ?? randomBytes(32).toString('base64');
          const next = parseSecretKey(nextText);
          const others = configured.filter((k) => !k.equals(next));
          const lines = [nextText.trim(), ...others.map((k) => k.toString('base64'))];
          writeFileSync(`${file}.new`, `${lines.join('\n')}\n`, { mode: 0o600 });
          chmodSync(`${file}.new`, 0o600);
          renameSync(`${file}.new`, file);
          const box = new SecretBox(next, others);
          // Running gateways look at the file every second: let them seal with the new key
          // before the old values are moved (either way, each of them opens both).
          await new Promise((r) => setTimeout(r, Number(values['settle-ms'] ?? 3000)));
          const report = await resealStoredSecrets(store, box);
          console.log(describeReport(report, box.keyId));
          console.log(
            `${file} now holds the new key first; the older key(s) after it still open values a gateway that has not read the file yet writes. Delete those lines once every gateway runs with the new key.`,
          );
          if (report.remaining) process.exitCode = 1;
        } else if (configured.length > 1) {
          const box = new SecretBox(config.secretKey.key, config.secretKey.previous);
          const report = await resealStoredSecrets(store, box);
          console.log(describeReport(report, box.keyId));
          if (!report.unreadable.length && !report.remaining)
            console.log('No value needs the older key(s) any more: SECRET_KEY may list only the first.');
          if (report.remaining) process.exitCode = 1;
        } else {
          const next = values['new-key'] ?? randomBytes(32).toString('base64');
          const current = config.secretKey.key.toString('base64');
          console.error(
            [
              'SECRET_KEY holds one key: rotating it here would lock out every gateway running with it. Instead:',
              `  1. set SECRET_KEY=${current},${next} on every gateway and restart each (they open values of both keys, seal with the current one);`,
              `  2. set SECRET_KEY=${next},${current} on every gateway and restart each: they now seal with the new key and, in the background, re-seal every stored value with it;`,
              '  3. run this command again with that SECRET_KEY (it re-seals whatever is left and says when the old key is no longer needed), then drop the old key.',
              'Or keep the key in a file (SECRET_KEY_FILE): then this command rotates it while gateways run.',
            ].join('\n'),
          );
          process.exitCode = 2;
        }
        break;
      }
      case 'pbx-list':
        for (const p of await store.tenants.listPbxs()) console.log(`${p.id}\t${p.name}\t${p.timeZone}`);
        break;
      default:
        throw new Error(
          'usage: keys create --pbx <id> --role admin|viewer|linkus | pbx-list | generate-secret-key | rotate-secret-key [--new-key <key>] [--settle-ms 3000]',
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
