import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * docs/requirements.md stays in step with the code: every requirement id cited in src/, jobs/
 * or test/ has its section there, and every test file it names exists. Pure: reads files only.
 */
const root = path.resolve(import.meta.dirname, '../..');
const DOC = 'docs/requirements.md';
const doc = readFileSync(path.join(root, DOC), 'utf8');

/** The ids of the catalogue (SPEC): L1–L8, U1–U10, G1–G5, C1–C4, P1–P3, S1–S3, T1–T3. */
const ID = /\b(L[1-8]|U(?:10|[1-9])|G[1-5]|C[1-4]|P[1-3]|S[1-3]|T[1-3])\b/g;
/** A test file named in the doc: a backquoted path under test/. */
const TEST_FILE = /`(test\/[^`\s]+\.ts)`/g;
const NOT_BUILT = /^Not built yet\.$/m;
/** Every id of the catalogue, in its order. */
const CATALOGUE = Object.entries({ L: 8, U: 10, G: 5, C: 4, P: 3, S: 3, T: 3 }).flatMap(([letter, n]) =>
  Array.from({ length: n }, (_, i) => `${letter}${i + 1}`),
);

/** Every id cited in a source or documentation file under src/, jobs/ and test/, with where. */
function citedIds(): Map<string, string[]> {
  const cited = new Map<string, string[]>();
  for (const dir of ['src', 'jobs', 'test']) {
    const files = readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' }).filter((f) =>
      /\.(ts|md)$/.test(f),
    );
    for (const file of files) {
      const rel = `${dir}/${file.split(path.sep).join('/')}`;
      for (const [id] of readFileSync(path.join(root, rel), 'utf8').matchAll(ID)) {
        const where = cited.get(id) ?? [];
        if (!where.includes(rel)) where.push(rel);
        cited.set(id, where);
      }
    }
  }
  return cited;
}

/** The doc's requirement sections: `### <id> <title>` up to the next `##` or `###` heading. */
function sections(): Map<string, string> {
  const out = new Map<string, string>();
  const parts = doc.split(/^(?=#{2,3} )/m);
  for (const part of parts) {
    const m = part.match(/^### (\S+) /);
    if (m) out.set(m[1], part);
  }
  return out;
}

const testFilesIn = (text: string) => [...new Set([...text.matchAll(TEST_FILE)].map((m) => m[1]))];

/** The overview table: id → its "test files" count. */
function overview(): Map<string, number> {
  const rows = [...doc.matchAll(/^\| (\w+) \| [^|]+ \| [^|]+ \| (\d+) \|$/gm)];
  return new Map(rows.map((r) => [r[1], Number(r[2])]));
}

describe(`${DOC} keeps up with the code`, () => {
  const cited = citedIds();
  const documented = sections();

  it('finds the ids the code cites, and the sections of the doc (the check itself works)', () => {
    // The lifecycle, user, group and trigger requirements are built and cited in tests.
    for (const id of ['L2', 'U3', 'U10', 'G4', 'T1']) expect(cited.get(id), id).toBeDefined();
    expect(CATALOGUE).toHaveLength(36);
    expect(CATALOGUE.join(' ').match(ID)).toEqual(CATALOGUE);
    // Not an id: a CSS hex colour, an Entra AADSTS code, a date-time's T00 or U100 are no match.
    expect('#C10 AADSTS50011 2026-01-01T00:00 U100 G63'.match(ID)).toBeNull();
  });

  it('has one section per catalogue id, built or not, in the catalogue order', () => {
    expect([...documented.keys()]).toEqual(CATALOGUE);
  });

  it('has a section for every id cited in src/, jobs/ or test/', () => {
    const missing = [...cited]
      .filter(([id]) => !documented.has(id))
      .map(([id, where]) => `${id} (${where[0]})`);
    expect(missing).toEqual([]);
  });

  it('names only test files that exist', () => {
    const named = testFilesIn(doc);
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((f) => !existsSync(path.join(root, f)))).toEqual([]);
  });

  it('lists tests for each built requirement, and none for one not built yet', () => {
    const wrong: string[] = [];
    for (const [id, text] of documented) {
      const tests = testFilesIn(text);
      if (NOT_BUILT.test(text) && tests.length)
        wrong.push(`${id}: not built yet, but lists ${tests.join(', ')}`);
      if (!NOT_BUILT.test(text) && !tests.length)
        wrong.push(`${id}: lists no test and is not marked "Not built yet."`);
    }
    expect(wrong).toEqual([]);
  });

  it('has an overview row per section whose count matches the tests the section lists', () => {
    const rows = overview();
    const counts = [...documented.keys()].map((id) => [id, rows.get(id) ?? null]);
    expect(counts).toEqual([...documented].map(([id, text]) => [id, testFilesIn(text).length]));
  });
});
