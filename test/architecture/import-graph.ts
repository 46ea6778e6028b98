import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * The import graph of the repository and the layering rules of ARCHITECTURE.md, as plain
 * data and functions (no test framework here), so the checker itself can be tested on a
 * synthetic graph.
 */

/** Where an import points: a file of the repository (path from the root, `.ts`) or a package. */
export type ImportTarget = { kind: 'file'; path: string } | { kind: 'package'; name: string };

export interface ImportEdge {
  /** The importing file, from the repository root (`src/app/x.ts`). */
  from: string;
  /** The specifier as written. */
  specifier: string;
  to: ImportTarget;
}

export interface LayeringRule {
  name: string;
  /** Whether the rule applies to a file (path from the root). */
  appliesTo: (file: string) => boolean;
  /** Whether the file may not import this target. */
  forbids: (target: ImportTarget) => boolean;
}

/**
 * `source` with comments, regular-expression literals, the text of template literals and
 * the contents of string literals blanked out (same length, newlines kept; a string keeps
 * its quotes): what is left can be searched for import syntax without matching an import
 * inside a comment or a string, and a match's offsets point into `source`.
 */
export function codeOnly(source: string): string {
  const out = source.split('');
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  // The last significant character of code: decides whether `/` starts a regex or divides.
  let last = '';
  let lastWord = '';
  // Brace depths at which an open template literal resumes after `${ ... }`.
  const templates: number[] = [];
  let depth = 0;
  let i = 0;
  const n = source.length;
  const scanTemplate = () => {
    // At the first character of a template's text; stops after the closing ` or at `${`.
    const start = i;
    while (i < n) {
      const c = source[i];
      if (c === '\\') i += 2;
      else if (c === '`') {
        blank(start, i);
        i++;
        last = '`';
        return;
      } else if (c === '$' && source[i + 1] === '{') {
        blank(start, i);
        i += 2;
        templates.push(depth);
        depth++;
        last = '{';
        return;
      } else i++;
    }
    blank(start, n);
  };
  while (i < n) {
    const c = source[i];
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      const end = source.indexOf('\n', i);
      const stop = end === -1 ? n : end;
      blank(i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      const stop = end === -1 ? n : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === "'" || c === '"') {
      i++;
      const start = i;
      while (i < n && source[i] !== c && source[i] !== '\n') i += source[i] === '\\' ? 2 : 1;
      blank(start, Math.min(i, n));
      i++;
      last = c;
      lastWord = '';
    } else if (c === '`') {
      i++;
      scanTemplate();
      lastWord = '';
    } else if (c === '/') {
      const regexAllowed =
        !/[\w$)\]}'"`]/.test(last) ||
        ['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'yield', 'await', 'void'].includes(lastWord);
      if (regexAllowed) {
        const start = i;
        i++;
        let inClass = false;
        while (i < n && source[i] !== '\n') {
          const r = source[i];
          if (r === '\\') i += 2;
          else {
            if (r === '[') inClass = true;
            else if (r === ']') inClass = false;
            else if (r === '/' && !inClass) break;
            i++;
          }
        }
        i++;
        while (i < n && /[a-z]/i.test(source[i])) i++;
        blank(start, i);
        last = ')';
        lastWord = '';
      } else {
        last = '/';
        lastWord = '';
        i++;
      }
    } else if (c === '{') {
      depth++;
      last = c;
      lastWord = '';
      i++;
    } else if (c === '}') {
      depth--;
      i++;
      if (templates.length && templates[templates.length - 1] === depth) {
        templates.pop();
        scanTemplate();
      } else last = '}';
      lastWord = '';
    } else if (/[\w$]/.test(c)) {
      const start = i;
      while (i < n && /[\w$]/.test(source[i])) i++;
      lastWord = source.slice(start, i);
      last = source[i - 1];
    } else {
      if (!/\s/.test(c)) {
        last = c;
        lastWord = '';
      }
      i++;
    }
  }
  return out.join('');
}

/**
 * The module specifiers a file imports: `import ... from '...'`, `import '...'`,
 * `export ... from '...'`, `import('...')` (and `typeof import('...')`), type-only ones included.
 */
export function importSpecifiers(source: string): string[] {
  const code = codeOnly(source);
  const found: Array<{ at: number; specifier: string }> = [];
  const patterns = [
    // import x from '...', import type { x } from '...', export { x } from '...', export * from '...'
    /\b(?:import|export)\b[^;'"`()]*?\bfrom\s*(['"])([^'"\n]*)\1/dg,
    // import '...'
    /\bimport\s*(['"])([^'"\n]*)\1/dg,
    // import('...') and typeof import('...')
    /\bimport\s*\(\s*(['"])([^'"\n]*)\1/dg,
  ];
  for (const pattern of patterns) {
    for (const match of code.matchAll(pattern)) {
      const [start, end] = match.indices?.[2] ?? [0, 0];
      found.push({ at: start, specifier: source.slice(start, end) });
    }
  }
  return found.sort((a, b) => a.at - b.at).map((f) => f.specifier);
}

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`, `node:fs` as is). */
export function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Where a specifier of `from` points, `exists` telling which repository files there are. */
export function resolveImport(
  from: string,
  specifier: string,
  exists: (file: string) => boolean,
): ImportTarget {
  if (!specifier.startsWith('.') && !specifier.startsWith('/')) {
    return { kind: 'package', name: packageName(specifier) };
  }
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  const candidates = [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, `${base}/index.ts`];
  return { kind: 'file', path: candidates.find(exists) ?? candidates[0] };
}

/** Every `.ts` file under `dirs` (paths from `root`, with `/`). */
export function sourceFiles(root: string, dirs: readonly string[]): string[] {
  const files: string[] = [];
  for (const dir of dirs) {
    const abs = path.join(root, dir);
    if (!existsSync(abs)) continue;
    for (const entry of readdirSync(abs, { recursive: true, encoding: 'utf8' })) {
      const rel = path.posix.join(dir, entry.split(path.sep).join('/'));
      if (rel.endsWith('.ts') && !rel.includes('node_modules/') && statSync(path.join(root, rel)).isFile()) {
        files.push(rel);
      }
    }
  }
  return files.sort();
}

/** The import graph of `files` (paths from the root), read from disk. */
export function importGraph(root: string, files: readonly string[]): ImportEdge[] {
  const known = new Set(files);
  const exists = (file: string) => known.has(file) || existsSync(path.join(root, file));
  return files.flatMap((from) =>
    importSpecifiers(readFileSync(path.join(root, from), 'utf8')).map((specifier) => ({
      from,
      specifier,
      to: resolveImport(from, specifier, exists),
    })),
  );
}

const under =
  (...dirs: string[]) =>
  (file: string) =>
    dirs.some((dir) => (dir.endsWith('/') ? file.startsWith(dir) : file === dir));
const fileUnder =
  (...dirs: string[]) =>
  (target: ImportTarget) =>
    target.kind === 'file' && under(...dirs)(target.path);
const packageIn =
  (...names: string[]) =>
  (target: ImportTarget) =>
    target.kind === 'package' && names.some((name) => target.name === name || target.name.startsWith(name));

/** Libraries only adapters may use (ARCHITECTURE "Adapters, each behind a port"). */
export const ADAPTER_LIBRARIES = [
  '@mikro-orm/',
  'bullmq',
  'ioredis',
  '@azure/msal-node',
  '@microsoft/microsoft-graph-client',
  'type-graphql',
  'fastify',
];

/** The arrows of ARCHITECTURE.md that must hold. */
export const LAYERING_RULES: readonly LayeringRule[] = [
  {
    name: 'src/domain is pure: it imports only src/domain and libphonenumber-js',
    appliesTo: under('src/domain/'),
    forbids: (target) =>
      target.kind === 'file' ? !target.path.startsWith('src/domain/') : target.name !== 'libphonenumber-js',
  },
  {
    // Stricter than a list of adapter folders: besides itself and the domain, src/app may
    // import no file at all (not the config, the logger or the composition root either).
    name: 'src/app imports only src/app, src/domain and no adapter library',
    appliesTo: under('src/app/'),
    forbids: (target) =>
      target.kind === 'file'
        ? !under('src/app/', 'src/domain/')(target.path)
        : packageIn(...ADAPTER_LIBRARIES)(target),
  },
  {
    name: 'src/m365 does not depend on src/store or src/sandbox',
    appliesTo: under('src/m365/'),
    forbids: fileUnder('src/store/', 'src/sandbox/'),
  },
  {
    name: 'src/store does not depend on src/graphql or src/http',
    appliesTo: under('src/store/'),
    forbids: fileUnder('src/graphql/', 'src/http/'),
  },
  {
    name: 'src/redis depends on no other adapter',
    appliesTo: under('src/redis/'),
    forbids: fileUnder('src/graphql/', 'src/http/', 'src/store/', 'src/m365/', 'src/mail/', 'jobs/'),
  },
  {
    name: 'jobs/ does not depend on src/graphql or src/http',
    appliesTo: under('jobs/'),
    forbids: fileUnder('src/graphql/', 'src/http/'),
  },
  {
    name: 'only src/cli/demo.ts, bench/ and test/ use src/sandbox',
    appliesTo: (file) => !under('src/sandbox/', 'src/cli/demo.ts', 'bench/', 'test/')(file),
    forbids: fileUnder('src/sandbox/'),
  },
];

const describeTarget = (target: ImportTarget) => (target.kind === 'file' ? target.path : target.name);

/** Every edge a rule forbids, as "from → to (rule)", sorted. */
export function layeringViolations(
  edges: readonly ImportEdge[],
  rules: readonly LayeringRule[] = LAYERING_RULES,
): string[] {
  const violations = new Set<string>();
  for (const edge of edges) {
    for (const rule of rules) {
      if (rule.appliesTo(edge.from) && rule.forbids(edge.to)) {
        violations.add(`${edge.from} → ${describeTarget(edge.to)} (${rule.name})`);
      }
    }
  }
  return [...violations].sort();
}
