import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  getNullableType,
  isCompositeType,
  isInputObjectType,
  isLeafType,
  isListType,
  Kind,
  type ObjectFieldNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { AppError } from '../app/errors.js';
import type { FieldProblem } from '../domain/tenant.js';
import { textProblem } from '../domain/text.js';
import { DEFAULT_PAGE_SIZE, pageLimit, stringLimit } from '../limits.js';

/**
 * Checks of an operation at the edge, before any resolver runs, with its variables in hand
 * (so they run after validation: Apollo's `didResolveOperation`, graphql-ws's `onSubscribe`):
 *
 * - every string the operation passes, as a literal or in a variable, at any depth of an input
 *   object or list, is text a database can store (no NUL, no unpaired surrogate) and no longer
 *   than its limit (src/limits.ts); a refusal is INVALID_INPUT naming each argument;
 * - the cost: at most `maxCost` objects the operation could return, each page counting its
 *   `first` (see {@link operationCost}).
 */

type Variables = Readonly<Record<string, unknown>> | null | undefined;

interface Walk {
  schema: GraphQLSchema;
  fragments: Map<string, FragmentDefinitionNode>;
  variables: Variables;
  defaults: Map<string, ValueNode>;
  /** Set when a count the walk read came from a variable. */
  readVariable?: boolean;
}

function operationOf(document: DocumentNode, operationName: string | null | undefined) {
  const ops = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  return operationName
    ? ops.find((o) => o.name?.value === operationName)
    : ops.length === 1
      ? ops[0]
      : undefined;
}

function walkOf(
  schema: GraphQLSchema,
  document: DocumentNode,
  op: OperationDefinitionNode,
  variables: Variables,
): Walk {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions)
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const defaults = new Map<string, ValueNode>();
  for (const v of op.variableDefinitions ?? [])
    if (v.defaultValue) defaults.set(v.variable.name.value, v.defaultValue);
  return { schema, fragments, variables, defaults };
}

const rootType = (schema: GraphQLSchema, op: OperationDefinitionNode) =>
  op.operation === 'query'
    ? schema.getQueryType()
    : op.operation === 'mutation'
      ? schema.getMutationType()
      : schema.getSubscriptionType();

/**
 * Visits every field of the selection (fragments spread in, each once per place it is used),
 * with its definition and the multiplier the caller passes down.
 */
function eachField(
  w: Walk,
  set: SelectionSetNode,
  parent: GraphQLNamedType | null | undefined,
  visit: (node: FieldNode, def: GraphQLField<unknown, unknown>, parent: GraphQLNamedType) => void,
  seen: Set<string> = new Set(),
) {
  if (!parent || !isCompositeType(parent)) return;
  for (const sel of set.selections) {
    if (sel.kind === Kind.FIELD) {
      if (sel.name.value.startsWith('__')) continue;
      const def = 'getFields' in parent ? parent.getFields()[sel.name.value] : undefined;
      if (def) visit(sel, def as GraphQLField<unknown, unknown>, parent);
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      const t = sel.typeCondition ? w.schema.getType(sel.typeCondition.name.value) : parent;
      eachField(w, sel.selectionSet, t, visit, seen);
    } else {
      const name = sel.name.value;
      const frag = w.fragments.get(name);
      if (!frag || seen.has(name)) continue;
      eachField(
        w,
        frag.selectionSet,
        w.schema.getType(frag.typeCondition.name.value),
        visit,
        new Set([...seen, name]),
      );
    }
  }
}

// ------------------------------------------------------------------------------------- input

function checkRaw(
  value: unknown,
  type: GraphQLInputType | null,
  coordinate: string,
  path: string,
  problems: FieldProblem[],
) {
  if (value === null || value === undefined) return;
  const named = type ? getNamedType(type) : null;
  const nullable = type ? getNullableType(type) : null;
  if (typeof value === 'string') {
    const problem = textProblem(value, stringLimit(coordinate, named?.name ?? 'String'));
    if (problem) problems.push({ field: path, message: problem });
  } else if (Array.isArray(value)) {
    const item = nullable && isListType(nullable) ? (nullable.ofType as GraphQLInputType) : type;
    value.forEach((v, i) => {
      checkRaw(v, item, coordinate, `${path}[${i}]`, problems);
    });
  } else if (typeof value === 'object') {
    const fields = named && isInputObjectType(named) ? named.getFields() : null;
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      const keyProblem = textProblem(key, DEFAULT_KEY_LIMIT);
      if (keyProblem) problems.push({ field: `${path} (a key)`, message: keyProblem });
      const f = fields?.[key];
      checkRaw(
        v,
        f ? f.type : null,
        f && named ? `${named.name}.${key}` : coordinate,
        `${path}.${key}`,
        problems,
      );
    }
  }
}

const DEFAULT_KEY_LIMIT = 200;

/**
 * What the input check of an operation comes to, made once per document: problems of its
 * literals (the same whatever the variables), and the places where a variable is passed (each
 * checked with the variables of the request, in the document's order).
 */
type InputStep =
  | { kind: 'problem'; problem: FieldProblem }
  | {
      kind: 'variable';
      name: string;
      type: GraphQLInputType | null;
      coordinate: string;
      path: string;
      /** Problems of the variable's default value, when the request gives no value. */
      absent: FieldProblem[];
    };

function checkLiteral(
  w: Walk,
  node: ValueNode,
  type: GraphQLInputType | null,
  coordinate: string,
  path: string,
  steps: InputStep[],
) {
  const named = type ? getNamedType(type) : null;
  const nullable = type ? getNullableType(type) : null;
  switch (node.kind) {
    case Kind.VARIABLE: {
      const name = node.name.value;
      const def = w.defaults.get(name);
      const absent: InputStep[] = [];
      if (def) checkLiteral(w, def, type, coordinate, path, absent);
      steps.push({
        kind: 'variable',
        name,
        type,
        coordinate,
        path,
        // A default value is a constant: it holds no variable.
        absent: absent.flatMap((a) => (a.kind === 'problem' ? [a.problem] : [])),
      });
      return;
    }
    case Kind.STRING: {
      const problem = textProblem(node.value, stringLimit(coordinate, named?.name ?? 'String'));
      if (problem) steps.push({ kind: 'problem', problem: { field: path, message: problem } });
      return;
    }
    case Kind.LIST: {
      const item = nullable && isListType(nullable) ? (nullable.ofType as GraphQLInputType) : type;
      node.values.forEach((v, i) => {
        checkLiteral(w, v, item, coordinate, `${path}[${i}]`, steps);
      });
      return;
    }
    case Kind.OBJECT: {
      const fields = named && isInputObjectType(named) ? named.getFields() : null;
      node.fields.forEach((f: ObjectFieldNode) => {
        const key = f.name.value;
        const def = fields?.[key];
        const at = def && named ? `${named.name}.${key}` : coordinate;
        checkLiteral(w, f.value, def ? def.type : null, at, `${path}.${key}`, steps);
      });
      return;
    }
    default:
      return;
  }
}

/** The input steps of an operation (see InputStep), by walking its selections. */
function inputSteps(schema: GraphQLSchema, document: DocumentNode, op: OperationDefinitionNode): InputStep[] {
  const w = walkOf(schema, document, op, undefined);
  const steps: InputStep[] = [];
  const visitSet = (set: SelectionSetNode, parent: GraphQLNamedType | null | undefined) =>
    eachField(w, set, parent, (node, def, parentType) => {
      for (const arg of node.arguments ?? []) {
        const argDef = def.args.find((a) => a.name === arg.name.value);
        const coordinate = `${parentType.name}.${def.name}(${arg.name.value}:)`;
        checkLiteral(w, arg.value, argDef?.type ?? null, coordinate, arg.name.value, steps);
      }
      if (node.selectionSet) visitSet(node.selectionSet, getNamedType(def.type));
    });
  visitSet(op.selectionSet, rootType(schema, op));
  return steps;
}

function runInputSteps(steps: readonly InputStep[], variables: Variables): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const step of steps) {
    if (step.kind === 'problem') problems.push(step.problem);
    else if (variables && Object.hasOwn(variables, step.name))
      checkRaw(variables[step.name], step.type, step.coordinate, step.path, problems);
    else problems.push(...step.absent);
  }
  return problems;
}

/**
 * Every string argument of the operation that cannot be taken, named by its path
 * (`input.publicBaseUrl`, `search`, `memberIds[3]`), with why.
 */
export function inputProblems(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Variables,
): FieldProblem[] {
  const compiled = compiledOperation(schema, document, operationName);
  return compiled ? runInputSteps(compiled.steps, variables) : [];
}

// -------------------------------------------------------------------------------------- cost

function intOf(w: Walk, node: ValueNode | undefined): number | null {
  if (!node) return null;
  if (node.kind === Kind.INT) return Number.parseInt(node.value, 10);
  if (node.kind === Kind.VARIABLE) {
    w.readVariable = true;
    const name = node.name.value;
    if (w.variables && Object.hasOwn(w.variables, name)) {
      const v = w.variables[name];
      return typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : null;
    }
    return intOf(w, w.defaults.get(name));
  }
  return null;
}

/**
 * The most objects the operation could return: each object a field returns counts 1, and a
 * field with a `first` argument counts its whole selection `first` times (what the operation
 * passes, else the argument's default, else 50; at most the field's largest page). Scalars
 * count nothing: they come with their object. `extensions(first: 500) { edges { node { ... } } }`
 * costs 2,500; a page of runs each with a page of items costs the product.
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Variables,
): number {
  const compiled = compiledOperation(schema, document, operationName);
  if (!compiled) return 0;
  if (compiled.cost !== null) return compiled.cost;
  return costOf(walkOf(schema, document, compiled.op, variables), compiled.op);
}

function costOf(w: Walk, op: OperationDefinitionNode): number {
  const costOfSet = (set: SelectionSetNode, parent: GraphQLNamedType | null | undefined): number => {
    let total = 0;
    eachField(w, set, parent, (node, def, parentType) => {
      const named = getNamedType(def.type);
      if (isLeafType(named) || !node.selectionSet) return;
      let cost = 1 + costOfSet(node.selectionSet, named);
      const firstArg = def.args.find((a) => a.name === 'first');
      if (firstArg) {
        const given = intOf(w, node.arguments?.find((a) => a.name.value === 'first')?.value);
        const fallback =
          typeof firstArg.defaultValue === 'number' ? firstArg.defaultValue : DEFAULT_PAGE_SIZE;
        const max = pageLimit(`${parentType.name}.${def.name}`);
        let n = given ?? fallback;
        if (max !== null) n = Math.min(n, max);
        cost *= Math.max(1, n);
      }
      total += cost;
    });
    return total;
  };
  return costOfSet(op.selectionSet, rootType(w.schema, op));
}

// ------------------------------------------------------------------------------ per document

/**
 * An operation of a document as the edge checks it: its input steps, and its cost when that
 * does not depend on the variables (no `first` passed as a variable), else null.
 */
interface CompiledOperation {
  op: OperationDefinitionNode;
  steps: InputStep[];
  cost: number | null;
}

/**
 * Compiled operations by schema, document and operation name. Apollo hands the same document
 * object to every request of the same query text (its document cache), so the walk of the
 * document is made once per query, not once per request (issue 13: it was a thirtieth of a
 * GraphQL lookup's CPU); only what the variables hold is checked per request.
 */
const compiled = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, Map<string, CompiledOperation | null>>>();

function compiledOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
): CompiledOperation | null {
  let bySchema = compiled.get(schema);
  if (!bySchema) {
    bySchema = new WeakMap();
    compiled.set(schema, bySchema);
  }
  let byName = bySchema.get(document);
  if (!byName) {
    byName = new Map();
    bySchema.set(document, byName);
  }
  const key = operationName ?? '';
  let found = byName.get(key);
  if (found === undefined) {
    found = compile(schema, document, operationName);
    // A client may send any number of operation names with one document: only the first few are kept.
    if (byName.size < 8) byName.set(key, found);
  }
  return found;
}

function compile(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
): CompiledOperation | null {
  const op = operationOf(document, operationName);
  if (!op) return null;
  const w = walkOf(schema, document, op, undefined);
  const cost = costOf(w, op);
  return { op, steps: inputSteps(schema, document, op), cost: w.readVariable ? null : cost };
}

// ---------------------------------------------------------------------------------- refusals

/** The cost error: names the limit and what the operation would cost. */
export function costLimitError(cost: number, maxCost: number): GraphQLError {
  return new GraphQLError(
    `Query cost limit of ${maxCost} exceeded: this operation could return up to ${cost} objects (each page counts its \`first\`; GRAPHQL_MAX_COST).`,
    { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'cost', maxCost, cost } },
  );
}

/** INVALID_INPUT naming every argument that cannot be taken. */
export function inputError(problems: FieldProblem[]): GraphQLError {
  const error = AppError.invalidInput(problems);
  return new GraphQLError(error.message, {
    originalError: error,
    extensions: { code: error.code, ...error.details },
  });
}

export interface EdgeRefusal {
  kind: 'cost' | 'input';
  error: GraphQLError;
  problems: FieldProblem[];
}

/** The edge's verdict on an operation: null when it may run. Input first, then cost. */
export function checkOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Variables,
  maxCost: number,
): EdgeRefusal | null {
  const op = compiledOperation(schema, document, operationName);
  if (!op) return null;
  const problems = runInputSteps(op.steps, variables);
  if (problems.length) return { kind: 'input', error: inputError(problems), problems };
  const cost = op.cost ?? costOf(walkOf(schema, document, op.op, variables), op.op);
  if (cost > maxCost) return { kind: 'cost', error: costLimitError(cost, maxCost), problems: [] };
  return null;
}

export { operationOf };
