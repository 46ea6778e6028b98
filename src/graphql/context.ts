import { AppError } from '../app/errors.js';
import type { Store } from '../app/ports/store.port.js';
import type { AppServices } from '../app/services.js';
import { ApiRole, type Caller, type KeyHolder } from '../domain/access.js';
import type { Logger } from '../logger.js';

/**
 * How an OPERATOR key names the PBX it acts on: an HTTP header, and the same name among
 * graphql-ws `connectionParams` (for the whole connection).
 */
export const PBX_HEADER = 'x-pbx-id';

/** What every resolver gets: who calls, one unit of work, and a request-scoped logger. */
export interface GraphQLContext {
  /** The key behind the request: a PBX's key, or an operator's (of no PBX). */
  principal: KeyHolder;
  /** The PBX the request names (`x-pbx-id`), if any. */
  namedPbxId: string | null;
  /**
   * Who acts on one PBX: the key's own PBX, or the one an operator named. For PBX-scoped
   * fields only: the auth checker refuses an operator that named none (PBX_REQUIRED) before
   * a resolver reads this; reading it anyway throws the same error.
   */
  readonly caller: Caller;
  /** Whether the named PBX exists (looked up once per request). */
  namedPbxExists(): Promise<boolean>;
  store: Store;
  requestId: string;
  logger: Logger;
  services: AppServices;
}

/** The PBX id a header or connection parameter names, or null (absent or blank). */
export function namedPbx(value: unknown): string | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (typeof v !== 'string') return null;
  const t = v.trim();
  return t ? t.slice(0, 100) : null;
}

/**
 * Why a key may not name this PBX, or null when it may: a PBX's key acts on its own PBX
 * only, so naming another is refused (naming its own, or none, is fine).
 */
export function scopeRefusal(principal: KeyHolder, named: string | null): string | null {
  if (principal.pbxId !== null && named !== null && named !== principal.pbxId) {
    return `This key belongs to one PBX and cannot act on PBX ${named} (${PBX_HEADER}).`;
  }
  return null;
}

export function pbxRequired(): AppError {
  return new AppError(
    'PBX_REQUIRED',
    `An OPERATOR key acts on one PBX only by naming it: send the header "${PBX_HEADER}: <PBX id>" (graphql-ws: connectionParams["${PBX_HEADER}"]).`,
    { field: PBX_HEADER },
  );
}

/**
 * Who acts on one PBX for this key: a PBX's key on its own PBX, an OPERATOR key on the PBX it
 * names (null when it names none). GraphQL and the plain HTTP lookup (src/http/linkus-lookup.ts)
 * make their caller here.
 */
export function actingCaller(principal: KeyHolder, namedPbxId: string | null): Caller | null {
  if (principal.pbxId !== null) {
    return {
      pbxId: principal.pbxId,
      role: principal.role,
      keyId: principal.keyId,
      extensionId: principal.extensionId ?? null,
      ...(principal.sessionId ? { sessionId: principal.sessionId } : {}),
    };
  }
  return namedPbxId !== null ? { pbxId: namedPbxId, role: ApiRole.OPERATOR, keyId: principal.keyId } : null;
}

/**
 * The context of one operation. A class, so that `caller` is a getter on its prototype:
 * Apollo clones a context by copying its own properties (`Object.assign` onto an object of the
 * same prototype), which would call an own getter, and throw, for every operator request.
 */
class OperationContext {
  readonly principal: KeyHolder;
  readonly namedPbxId: string | null;
  readonly store: Store;
  readonly requestId: string;
  readonly services: AppServices;
  private readonly acting: Caller | null;
  private exists: Promise<boolean> | undefined;
  private log: Logger | (() => Logger);

  constructor(input: {
    principal: KeyHolder;
    namedPbxId: string | null;
    store: Store;
    requestId: string;
    /** The request's logger, or how to make it: made on first use (most requests log nothing). */
    logger: Logger | (() => Logger);
    services: AppServices;
  }) {
    this.principal = input.principal;
    this.namedPbxId = input.namedPbxId;
    this.store = input.store;
    this.requestId = input.requestId;
    this.log = input.logger;
    this.services = input.services;
    this.acting = actingCaller(input.principal, input.namedPbxId);
  }

  get logger(): Logger {
    if (typeof this.log === 'function') this.log = this.log();
    return this.log;
  }

  get caller(): Caller {
    if (!this.acting) throw pbxRequired();
    return this.acting;
  }

  namedPbxExists(): Promise<boolean> {
    const id = this.namedPbxId;
    this.exists ??= id === null ? Promise.resolve(false) : this.store.tenants.findPbx(id).then(Boolean);
    return this.exists;
  }
}

export function buildContext(input: ConstructorParameters<typeof OperationContext>[0]): GraphQLContext {
  return new OperationContext(input);
}

/** The PBX an audit entry of this request belongs to: the key's, or the one an operator named (if it exists). */
export async function auditPbxId(ctx: GraphQLContext, fleet: boolean): Promise<string | null> {
  if (ctx.principal.pbxId !== null) return ctx.principal.pbxId;
  if (fleet || ctx.namedPbxId === null) return null;
  return (await ctx.namedPbxExists().catch(() => false)) ? ctx.namedPbxId : null;
}
