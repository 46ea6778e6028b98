import {
  type DocumentNode,
  defaultFieldResolver,
  GraphQLError,
  type GraphQLFieldResolver,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  valueFromASTUntyped,
} from 'graphql';
import { recordMutation } from '../app/audit.js';
import { AppError } from '../app/errors.js';
import { auditPbxId, type GraphQLContext } from './context.js';
import { isFleetField } from './fleet.js';

/** Codes whose message is the caller's own business and safe to keep (the rest is masked, as in errors.ts). */
const PUBLIC_CODES = new Set(['FORBIDDEN', 'UNAUTHENTICATED', 'BAD_USER_INPUT']);

const AUDITED = Symbol('audited');

function unwrap(error: unknown): unknown {
  let e = error;
  for (let i = 0; i < 5 && e instanceof GraphQLError && e.originalError; i++) e = e.originalError;
  return e;
}

/** How a failed mutation ended, as the caller saw it: the code, and the message unless it was masked. */
export function failureOf(error: unknown): { outcome: string; message: string | null } {
  const e = unwrap(error);
  if (e instanceof AppError) return { outcome: e.code, message: e.message };
  if (e instanceof GraphQLError) {
    const code = e.extensions?.code;
    if (typeof code === 'string' && PUBLIC_CODES.has(code)) return { outcome: code, message: e.message };
  }
  return { outcome: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' };
}

/**
 * The audit log's one generic place (issue 4 item 7): wraps the resolver of every field
 * of the Mutation type, whatever resolver class defines it, present or future, over HTTP
 * and WebSocket alike. An entry belongs to the PBX acted on (the key's, or the one an operator
 * named); a fleet operation's (`@FleetOnly`) to the fleet's own log. It sits outside type-graphql's own middlewares, so a mutation
 * refused by the role check (FORBIDDEN) or failing in its use case is recorded with its
 * error code, and a successful one with OK. Arguments are stored redacted (src/app/audit.ts).
 *
 * The entry is written after the use case's transaction ended, through a native insert
 * of the request's unit of work, so a failed mutation's rollback never takes it along.
 * A failure to write the entry is logged and does not change the mutation's answer
 * (its effect is already committed).
 */
export function auditMutations(schema: GraphQLSchema): GraphQLSchema {
  const mutation = schema.getMutationType();
  if (!mutation) return schema;
  for (const field of Object.values(mutation.getFields())) {
    const resolve = (field.resolve ?? defaultFieldResolver) as GraphQLFieldResolver<
      unknown,
      GraphQLContext
    > & {
      [AUDITED]?: true;
    };
    if (resolve[AUDITED]) continue;
    const fleet = isFleetField(field);
    const audited: typeof resolve = async (root, args, ctx, info) => {
      const at = new Date();
      const record = async (outcome: string, message: string | null) => {
        if (!ctx?.principal || !ctx.store) return;
        try {
          const { keyId, role } = ctx.principal;
          const pbxId = await auditPbxId(ctx, fleet);
          await recordMutation(
            ctx.store,
            { pbxId, keyId, role },
            {
              operation: info.fieldName,
              args,
              outcome,
              message,
              requestId: ctx.requestId ?? null,
              at,
            },
          );
        } catch (err) {
          ctx.logger?.error({ err, operation: info.fieldName }, 'could not write the audit entry');
        }
      };
      let result: unknown;
      try {
        result = await resolve(root, args, ctx, info);
      } catch (err) {
        const failure = failureOf(err);
        await record(failure.outcome, failure.message);
        throw err;
      }
      await record('OK', null);
      return result;
    };
    audited[AUDITED] = true;
    field.resolve = audited;
  }
  return schema;
}

/** Whether a field's resolver records audit entries (for the check that every mutation does). */
export function isAudited(resolve: unknown): boolean {
  return typeof resolve === 'function' && (resolve as { [AUDITED]?: true })[AUDITED] === true;
}

/**
 * A mutation refused at the edge, before any resolver (src/graphql/edge.ts: text a database
 * cannot store, a string too long), is audited too: one entry per root field, with the
 * arguments as sent (made storable, redacted as always) and the refusal's code and message.
 */
export async function auditRefusedMutation(
  ctx: Partial<GraphQLContext> | undefined,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>> | null | undefined,
  error: unknown,
): Promise<void> {
  if (!ctx?.caller || !ctx.store || operation.operation !== 'mutation') return;
  const failure = failureOf(error);
  const at = new Date();
  const vars = { ...(variables ?? {}) };
  const fields: Array<{ name: string; args: Record<string, unknown> }> = [];
  const collect = (set: SelectionSetNode, seen: Set<string>) => {
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        if (sel.name.value.startsWith('__')) continue;
        const args: Record<string, unknown> = {};
        for (const arg of sel.arguments ?? []) args[arg.name.value] = valueFromASTUntyped(arg.value, vars);
        fields.push({ name: sel.name.value, args });
      } else if (sel.kind === Kind.INLINE_FRAGMENT) collect(sel.selectionSet, seen);
      else if (!seen.has(sel.name.value)) {
        const frag = document.definitions.find(
          (d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === sel.name.value,
        );
        if (frag?.kind === Kind.FRAGMENT_DEFINITION)
          collect(frag.selectionSet, new Set([...seen, sel.name.value]));
      }
    }
  };
  collect(operation.selectionSet, new Set());
  for (const field of fields) {
    try {
      await recordMutation(ctx.store, ctx.caller, {
        operation: field.name,
        args: field.args,
        outcome: failure.outcome,
        message: failure.message,
        requestId: ctx.requestId ?? null,
        at,
      });
    } catch (err) {
      ctx.logger?.error(
        { err, operation: field.name },
        'could not write the audit entry of a refused mutation',
      );
    }
  }
}
