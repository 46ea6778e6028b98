import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  codeOnly,
  type ImportEdge,
  importGraph,
  importSpecifiers,
  layeringViolations,
  resolveImport,
  sourceFiles,
} from './import-graph.js';

/** ARCHITECTURE.md: the direction of the arrows between the parts of the gateway. */
const root = path.resolve(import.meta.dirname, '../..');
const files = sourceFiles(root, ['src', 'jobs', 'bench', 'test']);

describe('the import graph of src/, jobs/, bench/ and test/', () => {
  const edges = importGraph(root, files);

  it('reads the whole repository', () => {
    expect(files).toContain('src/gateway.ts');
    expect(files).toContain('jobs/worker.ts');
    expect(files).toContain('bench/index.ts');
    expect(files).toContain('test/architecture/layering.spec.ts');
    expect(edges.length).toBeGreaterThan(500);
  });

  it('has no import against the layering rules', () => {
    expect(layeringViolations(edges)).toEqual([]);
  });

  it('resolves every relative import to a file that exists', () => {
    const known = new Set(files);
    const missing = edges
      .filter((e) => e.to.kind === 'file' && !known.has(e.to.path) && !e.to.path.endsWith('.json'))
      .map((e) => `${e.from} → ${e.specifier}`);
    expect(missing).toEqual([]);
  });
});

describe('ports in one place', () => {
  const portNames = new Set(
    files
      .filter((f) => f.startsWith('src/app/ports/'))
      .flatMap((f) =>
        [
          ...readFileSync(path.join(root, f), 'utf8').matchAll(/^export (?:interface|type|class) (\w+)/gm),
        ].map((m) => m[1]),
      ),
  );

  it('every port file is named *.port.ts', () => {
    expect(files.filter((f) => f.startsWith('src/app/ports/') && !f.endsWith('.port.ts'))).toEqual([]);
  });

  it('every interface an adapter class implements is a port of src/app/ports (or a library type)', () => {
    const outside = files
      .filter((f) => !f.startsWith('src/app/') && !f.startsWith('src/sandbox/') && !f.startsWith('test/'))
      .flatMap((file) => {
        const source = readFileSync(path.join(root, file), 'utf8');
        const fromPackages = new Set(
          [...source.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'[^.][^']*'/g)].flatMap((m) =>
            m[1].split(',').map((n) => n.replace(/\btype\s+/, '').trim()),
          ),
        );
        return [...source.matchAll(/\bclass\s+\w+(?:<[^>]*>)?\s+implements\s+([\w\s,<>]+?)\s*\{/g)]
          .flatMap((m) => m[1].split(',').map((n) => n.trim().replace(/<.*$/, '')))
          .filter((name) => !portNames.has(name) && !fromPackages.has(name))
          .map((name) => `${file} implements ${name}`);
      });
    expect(outside).toEqual([]);
  });
});

describe('nothing swallowed without a word', () => {
  it('every .catch(() => {} | undefined | null) and empty catch block in src/ and jobs/ has a comment saying why', () => {
    const silent =
      /\.catch\(\s*\(\s*\w*\s*\)\s*=>\s*(?:\{\s*\}|undefined|null|void 0)\s*\)|\bcatch\s*(?:\(\s*\w+\s*\))?\s*\{\s*\}/g;
    const unexplained = files
      .filter((f) => (f.startsWith('src/') || f.startsWith('jobs/')) && !f.startsWith('src/sandbox/'))
      .flatMap((file) => {
        const source = readFileSync(path.join(root, file), 'utf8');
        const code = codeOnly(source);
        const lines = source.split('\n');
        const lineAt = (offset: number) => code.slice(0, offset).split('\n').length;
        // A comment on the three lines above, on the line itself or inside the empty block.
        return [...code.matchAll(silent)]
          .map((m) => ({ line: lineAt(m.index), last: lineAt(m.index + m[0].length) }))
          .filter(({ line, last }) => !lines.slice(Math.max(0, line - 4), last).some((l) => l.includes('//')))
          .map(({ line }) => `${file}:${line}`);
      });
    expect(unexplained).toEqual([]);
  });
});

describe('src/domain is pure', () => {
  const domainFiles = files.filter((f) => f.startsWith('src/domain/'));

  it.each(domainFiles)('%s reads no clock, no randomness and no process', (file) => {
    const source = codeOnly(readFileSync(path.join(root, file), 'utf8'));
    expect(source).not.toMatch(/Date\.now\(|new Date\(\)|Math\.random\(|process\./);
  });
});

describe('the layering checker', () => {
  const edge = (from: string, specifier: string): ImportEdge => ({
    from,
    specifier,
    to: resolveImport(from, specifier, () => true),
  });

  it('reports each forbidden edge as "from → to (rule)"', () => {
    const graph = [
      edge('src/app/integration.ts', './ports/store.port.js'),
      edge('src/app/integration.ts', '../domain/integration.js'),
      edge('src/app/integration.ts', '../store/store.js'),
      edge('src/app/schedule.ts', 'bullmq'),
      edge('src/app/schedule.ts', '@mikro-orm/core'),
      edge('src/app/schedule.ts', 'node:crypto'),
      edge('src/app/schedule.ts', '../logger.js'),
      edge('src/domain/schedule.ts', 'libphonenumber-js/max'),
      edge('src/domain/schedule.ts', 'node:fs'),
      edge('src/domain/schedule.ts', '../app/errors.js'),
      edge('src/m365/directory.reader.ts', '../sandbox/index.js'),
      edge('src/m365/directory.reader.ts', '../store/orm.js'),
      edge('src/store/store.ts', '../graphql/context.js'),
      edge('jobs/worker.ts', '../src/http/metrics.js'),
      edge('src/redis/pubsub.redis.ts', '../store/orm.js'),
      edge('src/redis/pubsub.redis.ts', './connection.js'),
      edge('jobs/worker.ts', '../src/app/services.js'),
      edge('src/gateway.ts', './sandbox/index.js'),
      edge('src/cli/demo.ts', '../sandbox/index.js'),
      edge('src/sandbox/cli.ts', './index.js'),
      edge('bench/sync.bench.ts', '../src/sandbox/index.js'),
      edge('test/support/sandbox.ts', '../../src/sandbox/index.js'),
    ];
    expect(layeringViolations(graph)).toEqual([
      'jobs/worker.ts → src/http/metrics.ts (jobs/ does not depend on src/graphql or src/http)',
      'src/app/integration.ts → src/store/store.ts (src/app imports only src/app, src/domain and no adapter library)',
      'src/app/schedule.ts → @mikro-orm/core (src/app imports only src/app, src/domain and no adapter library)',
      'src/app/schedule.ts → bullmq (src/app imports only src/app, src/domain and no adapter library)',
      'src/app/schedule.ts → src/logger.ts (src/app imports only src/app, src/domain and no adapter library)',
      'src/domain/schedule.ts → node:fs (src/domain is pure: it imports only src/domain and libphonenumber-js)',
      'src/domain/schedule.ts → src/app/errors.ts (src/domain is pure: it imports only src/domain and libphonenumber-js)',
      'src/gateway.ts → src/sandbox/index.ts (only src/cli/demo.ts, bench/ and test/ use src/sandbox)',
      'src/m365/directory.reader.ts → src/sandbox/index.ts (only src/cli/demo.ts, bench/ and test/ use src/sandbox)',
      'src/m365/directory.reader.ts → src/sandbox/index.ts (src/m365 does not depend on src/store or src/sandbox)',
      'src/m365/directory.reader.ts → src/store/orm.ts (src/m365 does not depend on src/store or src/sandbox)',
      'src/redis/pubsub.redis.ts → src/store/orm.ts (src/redis depends on no other adapter)',
      'src/store/store.ts → src/graphql/context.ts (src/store does not depend on src/graphql or src/http)',
    ]);
  });

  it('finds static, side-effect, dynamic, type-only and re-export imports', () => {
    const source = [
      "import 'reflect-metadata';",
      "import type { A } from './a.js';",
      'import {',
      '  b,',
      '  type C,',
      "} from '../b.js';",
      "export { d } from './d.js';",
      "export * from './e.js';",
      "export type { F } from './f.js';",
      "const g = await import('./g.js');",
      "type H = typeof import('./h.js');",
    ].join('\n');
    expect(importSpecifiers(source)).toEqual(
      expect.arrayContaining([
        'reflect-metadata',
        './a.js',
        '../b.js',
        './d.js',
        './e.js',
        './f.js',
        './g.js',
        './h.js',
      ]),
    );
    expect(importSpecifiers(source)).toHaveLength(8);
  });

  it('ignores import syntax inside comments, strings, templates and regular expressions', () => {
    const source = [
      "// import x from './commented.js';",
      "/* import('./block.js') */",
      'const s = "import y from \'./string.js\'";',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text of a template literal, on purpose
      "const t = `import z from './template.js' ${1 / 2} and import('./also.js')`;",
      "const r = /from '.\\/regex.js'/;",
      "const u = 'https://example.com'; import real from './real.js';",
    ].join('\n');
    expect(importSpecifiers(source)).toEqual(['./real.js']);
  });

  it('resolves .js specifiers to the .ts file, and names packages without their subpath', () => {
    expect(resolveImport('src/app/a.ts', '../store/b.js', () => true)).toEqual({
      kind: 'file',
      path: 'src/store/b.ts',
    });
    expect(resolveImport('test/x.spec.ts', '@mikro-orm/core/utils', () => true)).toEqual({
      kind: 'package',
      name: '@mikro-orm/core',
    });
  });
});
