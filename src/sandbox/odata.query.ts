import { SandboxError } from './tenant.store.js';

/**
 * The OData query options the sandbox understands on directory objects: a `$filter`
 * parser and evaluator (eq, ne, ge, le, gt, lt, in, not, and, or, startswith, endswith,
 * `collection/any(x:x eq 'v')`), `$search` clauses ("property:words"), `$orderby`.
 *
 * Which filters need advanced query capabilities (ConsistencyLevel: eventual + $count):
 * https://learn.microsoft.com/graph/aad-advanced-queries (ne, not and endsWith do).
 */
export type FilterNode =
  | { t: 'cmp'; prop: string; op: 'eq' | 'ne' | 'ge' | 'le' | 'gt' | 'lt'; value: Literal }
  | { t: 'in'; prop: string; values: Literal[] }
  | { t: 'fn'; fn: 'startswith' | 'endswith'; prop: string; value: Literal }
  | { t: 'any'; prop: string; op: 'eq' | 'startswith'; value: Literal }
  | { t: 'and' | 'or'; a: FilterNode; b: FilterNode }
  | { t: 'not'; a: FilterNode };

export type Literal = string | number | boolean | null;

type Token = { k: 'id' | 'str' | 'num' | 'punct'; v: string };

function unsupported(message: string): SandboxError {
  return new SandboxError(400, 'Request_UnsupportedQuery', message);
}

function badFilter(text: string): SandboxError {
  return new SandboxError(400, 'BadRequest', `Invalid filter clause: ${text}`);
}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) throw badFilter('unterminated string literal');
        if (src[i] === "'") {
          if (src[i + 1] === "'") {
            s += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += src[i];
        i++;
      }
      out.push({ k: 'str', v: s });
    } else if ('(),:'.includes(c)) {
      out.push({ k: 'punct', v: c });
      i++;
    } else if (/[0-9-]/.test(c)) {
      const m = /^-?[0-9a-fA-F-]+(\.[0-9]+)?(T[0-9:.]+Z?)?/.exec(src.slice(i)) as RegExpExecArray;
      out.push({ k: /^-?\d+(\.\d+)?$/.test(m[0]) ? 'num' : 'str', v: m[0] });
      i += m[0].length;
    } else if (/[A-Za-z_$]/.test(c)) {
      const m = /^[A-Za-z_$][A-Za-z0-9_./]*/.exec(src.slice(i)) as RegExpExecArray;
      out.push({ k: 'id', v: m[0] });
      i += m[0].length;
    } else {
      throw badFilter(`unexpected character '${c}'`);
    }
  }
  return out;
}

export function parseFilter(src: string): FilterNode {
  const toks = tokenize(src);
  let pos = 0;
  const peek = () => toks[pos];
  const isWord = (w: string) => peek()?.k === 'id' && peek()?.v.toLowerCase() === w;
  const expect = (v: string) => {
    const t = toks[pos++];
    if (!t || t.v !== v) throw badFilter(`expected '${v}'`);
  };
  const literal = (): Literal => {
    const t = toks[pos++];
    if (!t) throw badFilter('expected a value');
    if (t.k === 'str') return t.v;
    if (t.k === 'num') return Number(t.v);
    if (t.k === 'id') {
      const w = t.v.toLowerCase();
      if (w === 'true') return true;
      if (w === 'false') return false;
      if (w === 'null') return null;
    }
    throw badFilter(`unexpected '${t.v}'`);
  };
  const ident = (): string => {
    const t = toks[pos++];
    if (t?.k !== 'id') throw badFilter('expected a property name');
    return t.v;
  };

  const primary = (): FilterNode => {
    const t = peek();
    if (!t) throw badFilter('unexpected end');
    if (t.v === '(') {
      pos++;
      const e = orExpr();
      expect(')');
      return e;
    }
    if (t.k === 'id' && (t.v.toLowerCase() === 'startswith' || t.v.toLowerCase() === 'endswith')) {
      pos++;
      expect('(');
      const prop = ident();
      expect(',');
      const value = literal();
      expect(')');
      return { t: 'fn', fn: t.v.toLowerCase() as 'startswith' | 'endswith', prop, value };
    }
    const prop = ident();
    if (/\/any$/i.test(prop)) {
      expect('(');
      const v = ident();
      expect(':');
      let node: FilterNode;
      if (isWord('startswith')) {
        pos++;
        expect('(');
        if (ident() !== v) throw badFilter('lambda variable');
        expect(',');
        node = { t: 'any', prop: prop.slice(0, -4), op: 'startswith', value: literal() };
        expect(')');
      } else {
        if (ident() !== v) throw badFilter('lambda variable');
        const op = ident().toLowerCase();
        if (op !== 'eq') throw unsupported(`Unsupported operator '${op}' in lambda expression.`);
        node = { t: 'any', prop: prop.slice(0, -4), op: 'eq', value: literal() };
      }
      expect(')');
      return node;
    }
    const opTok = ident().toLowerCase();
    if (opTok === 'in') {
      expect('(');
      const values: Literal[] = [literal()];
      while (peek()?.v === ',') {
        pos++;
        values.push(literal());
      }
      expect(')');
      return { t: 'in', prop, values };
    }
    if (!['eq', 'ne', 'ge', 'le', 'gt', 'lt'].includes(opTok)) throw badFilter(`unknown operator '${opTok}'`);
    return { t: 'cmp', prop, op: opTok as 'eq', value: literal() };
  };
  const unary = (): FilterNode => {
    if (isWord('not')) {
      pos++;
      return { t: 'not', a: unary() };
    }
    return primary();
  };
  const andExpr = (): FilterNode => {
    let a = unary();
    while (isWord('and')) {
      pos++;
      a = { t: 'and', a, b: unary() };
    }
    return a;
  };
  const orExpr = (): FilterNode => {
    let a = andExpr();
    while (isWord('or')) {
      pos++;
      a = { t: 'or', a, b: andExpr() };
    }
    return a;
  };
  const e = orExpr();
  if (pos !== toks.length) throw badFilter(`unexpected '${toks[pos]?.v}'`);
  return e;
}

export interface FilterSpec {
  /** Filterable scalar properties. */
  scalar: Set<string>;
  /** Filterable collection properties (`any`). */
  collections: Set<string>;
  resource: string;
}

/** Throws for properties the resource cannot filter on; returns whether advanced query is needed. */
export function checkFilter(node: FilterNode, spec: FilterSpec): { advanced: boolean } {
  let advanced = false;
  const walk = (n: FilterNode): void => {
    switch (n.t) {
      case 'and':
      case 'or':
        walk(n.a);
        walk(n.b);
        return;
      case 'not':
        advanced = true;
        walk(n.a);
        return;
      case 'any':
        if (!spec.collections.has(n.prop)) throw invalidClause(n.prop, spec.resource);
        return;
      default:
        if (n.prop !== 'id' && !spec.scalar.has(n.prop)) throw invalidClause(n.prop, spec.resource);
        if ((n.t === 'cmp' && n.op === 'ne') || (n.t === 'fn' && n.fn === 'endswith')) advanced = true;
        if (n.t === 'cmp' && n.value === null) advanced = true;
    }
  };
  walk(node);
  return { advanced };
}

function invalidClause(prop: string, resource: string): SandboxError {
  return unsupported(
    `Unsupported or invalid query filter clause specified for property '${prop}' of resource '${resource}'.`,
  );
}

function norm(v: unknown): unknown {
  return typeof v === 'string' ? v.toLowerCase() : v;
}

function compare(a: unknown, op: string, b: Literal): boolean {
  const x = norm(a ?? null);
  const y = norm(b);
  switch (op) {
    case 'eq':
      return x === y;
    case 'ne':
      return x !== y;
    default: {
      if (x === null || y === null) return false;
      const xs = x as string | number;
      const ys = y as string | number;
      if (op === 'ge') return xs >= ys;
      if (op === 'le') return xs <= ys;
      if (op === 'gt') return xs > ys;
      return xs < ys;
    }
  }
}

export function evalFilter(node: FilterNode, get: (prop: string) => unknown): boolean {
  switch (node.t) {
    case 'and':
      return evalFilter(node.a, get) && evalFilter(node.b, get);
    case 'or':
      return evalFilter(node.a, get) || evalFilter(node.b, get);
    case 'not':
      return !evalFilter(node.a, get);
    case 'cmp':
      return compare(get(node.prop), node.op, node.value);
    case 'in': {
      const v = norm(get(node.prop) ?? null);
      return node.values.some((x) => norm(x) === v);
    }
    case 'fn': {
      const v = get(node.prop);
      if (typeof v !== 'string' || typeof node.value !== 'string') return false;
      const a = v.toLowerCase();
      const b = node.value.toLowerCase();
      return node.fn === 'startswith' ? a.startsWith(b) : a.endsWith(b);
    }
    case 'any': {
      const v = get(node.prop);
      if (!Array.isArray(v)) return false;
      const b = String(node.value).toLowerCase();
      return v.some((x) =>
        node.op === 'eq' ? String(x).toLowerCase() === b : String(x).toLowerCase().startsWith(b),
      );
    }
  }
}

/** The ids a filter of the form `id eq 'a' or id eq 'b'` / `id in ('a','b')` names, else undefined. */
export function idsOfFilter(node: FilterNode): string[] | undefined {
  if (node.t === 'cmp' && node.op === 'eq' && node.prop === 'id' && typeof node.value === 'string')
    return [node.value];
  if (node.t === 'in' && node.prop === 'id') return node.values.map(String);
  if (node.t === 'or') {
    const a = idsOfFilter(node.a);
    const b = idsOfFilter(node.b);
    return a && b ? [...a, ...b] : undefined;
  }
  return undefined;
}

// ---------------------------------------------------------------- $search

export interface SearchClause {
  prop: string;
  words: string[];
}
export type SearchExpr = { op: 'and' | 'or'; clauses: SearchClause[] };

/**
 * `$search="displayName:sales" OR "mail:sales"`: each clause matches when every word of
 * it is a prefix of a word of the property (Graph tokenises on spaces, case and
 * punctuation: https://learn.microsoft.com/graph/search-query-parameter#using-search-on-directory-object-collections).
 */
export function parseSearch(src: string, searchable: Set<string>): SearchExpr {
  const clauses: SearchClause[] = [];
  let op: 'and' | 'or' = 'and';
  const re = /"([^"]*)"|\b(AND|OR)\b/g;
  let m: RegExpExecArray | null;
  let any = false;
  for (;;) {
    m = re.exec(src);
    if (!m) break;
    any = true;
    if (m[2]) {
      op = m[2] === 'OR' ? 'or' : 'and';
      continue;
    }
    const body = m[1] ?? '';
    const colon = body.indexOf(':');
    if (colon < 0) {
      throw new SandboxError(
        400,
        'Request_UnsupportedQuery',
        'Syntax error: the $search clause must be of the form "property:value".',
      );
    }
    const prop = body.slice(0, colon).trim();
    if (!searchable.has(prop)) {
      throw new SandboxError(
        400,
        'Request_UnsupportedQuery',
        `This query is not supported on property '${prop}'.`,
      );
    }
    clauses.push({ prop, words: words(body.slice(colon + 1)) });
  }
  if (!any || clauses.length === 0) {
    throw new SandboxError(
      400,
      'BadRequest',
      'Syntax error: character is not valid at position 0 in $search.',
    );
  }
  return { op, clauses };
}

function words(s: string): string[] {
  return s
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
}

export function evalSearch(expr: SearchExpr, get: (prop: string) => unknown): boolean {
  const test = (c: SearchClause): boolean => {
    const v = get(c.prop);
    const values = Array.isArray(v) ? v.map(String) : v == null ? [] : [String(v)];
    const have = values.flatMap(words);
    return c.words.every((w) => have.some((h) => h.startsWith(w)));
  };
  return expr.op === 'or' ? expr.clauses.some(test) : expr.clauses.every(test);
}

// ---------------------------------------------------------------- $select / $orderby

export function parseSelect(
  src: string | null,
  known: Set<string>,
  type: string,
  extra: string[] = [],
): string[] | null {
  if (src == null || src.trim() === '') return null;
  const out: string[] = [];
  for (const raw of src.split(',')) {
    const name = raw.trim();
    if (!name) continue;
    if (name !== 'id' && !known.has(name) && !extra.includes(name)) {
      throw new SandboxError(
        400,
        'BadRequest',
        `Could not find a property named '${name}' on type '${type}'.`,
      );
    }
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

export function parseOrderBy(
  src: string | null,
  sortable: Set<string>,
  resource: string,
): { prop: string; desc: boolean } | null {
  if (src == null || src.trim() === '') return null;
  const [prop = '', dir = 'asc'] = src.trim().split(/\s+/);
  if (!sortable.has(prop)) {
    throw new SandboxError(
      400,
      'Request_UnsupportedQuery',
      `Sorting not supported for '${resource}' on property '${prop}'.`,
    );
  }
  return { prop, desc: dir.toLowerCase() === 'desc' };
}
