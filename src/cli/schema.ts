/**
 * `npm run schema:emit` writes schema/schema.graphql from the resolvers;
 * `npm run schema:check` fails (exit 1) when the committed file differs from the code.
 * `--file <path>` names another file (tests use it).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildGatewaySchema, printGatewaySchema } from '../graphql/schema.js';

const mode = process.argv[2];
const fileFlag = process.argv.indexOf('--file');
const SCHEMA_FILE = path.resolve(fileFlag > 0 ? process.argv[fileFlag + 1] : 'schema/schema.graphql');

const sdl = printGatewaySchema(await buildGatewaySchema());
if (mode === 'emit') {
  writeFileSync(SCHEMA_FILE, sdl);
  console.log(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}`);
} else if (mode === 'check') {
  let committed = '';
  try {
    committed = readFileSync(SCHEMA_FILE, 'utf8');
  } catch {
    // No committed schema file: it is out of date, which the check below reports.
    committed = '';
  }
  if (committed !== sdl) {
    console.error(
      'schema/schema.graphql is out of date with the resolvers. Run `npm run schema:emit` (then `npm run codegen`) and commit the result.',
    );
    process.exit(1);
  }
  console.log('schema/schema.graphql matches the code.');
} else {
  console.error('usage: schema.ts emit|check');
  process.exit(2);
}
