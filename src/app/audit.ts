import type { Caller, KeyHolder } from '../domain/access.js';
import { storableText } from '../domain/text.js';
import { type PageArgs, pageRequest } from './extensions.js';
import type { AuditEntryRecord, Page, Store } from './ports/store.port.js';

/**
 * The audit log (issue 4 item 7): every mutation, who made it (key, role), for which PBX,
 * with which arguments (secrets redacted), when, and how it ended.
 */

export const REDACTED = '[redacted]';

/** Argument or field names whose value is never stored: secret, clientSecret, password, token, key ... */
const SECRET_NAME = /secret|passw|pwd|token|key|credential|authorization|cookie/i;

/** The user:password@ of a URL (a refused publicBaseUrl, say): never stored either. */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^/?#@\s]*@/gi;

const MAX_STRING = 500;
const MAX_ITEMS = 100;
const MAX_DEPTH = 6;

function redactValue(value: unknown, depth: number): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') {
    // Whatever a caller typed is kept storable (PostgreSQL refuses NUL in jsonb): the entry is never lost.
    const text =
      value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}… (${value.length} characters)` : value;
    return storableText(text).replace(URL_CREDENTIALS, `$1${REDACTED}@`);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  if (value instanceof Date) return value.toISOString();
  if (typeof value !== 'object') return String(value);
  if (depth >= MAX_DEPTH) return '[…]';
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map((v) => redactValue(v, depth + 1));
    if (value.length > MAX_ITEMS) items.push(`… ${value.length - MAX_ITEMS} more`);
    return items;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined) continue;
    out[storableText(k.slice(0, MAX_STRING))] = SECRET_NAME.test(k) ? REDACTED : redactValue(v, depth + 1);
  }
  return out;
}

/**
 * The arguments of a mutation as they may be stored: every argument or input field named
 * like a secret (secret, clientSecret, password, token, key ...) becomes "[redacted]",
 * at any depth; long strings and lists are cut short.
 */
export function redactArguments(args: Record<string, unknown>): Record<string, unknown> {
  return redactValue(args, 0) as Record<string, unknown>;
}

export interface MutationOutcome {
  operation: string;
  args: Record<string, unknown>;
  /** `OK`, or the error code the caller got. */
  outcome: string;
  message: string | null;
  requestId: string | null;
  at: Date;
}

/**
 * Records one mutation, with its arguments redacted: in the log of the PBX acted on, or
 * (`pbxId` null) in the fleet's own log.
 */
export async function recordMutation(store: Store, caller: KeyHolder, m: MutationOutcome): Promise<void> {
  await store.audit.record({
    pbxId: caller.pbxId,
    keyId: caller.keyId,
    role: caller.role,
    operation: storableText(m.operation.slice(0, 100)),
    arguments: redactArguments(m.args),
    outcome: storableText(m.outcome.slice(0, 64)),
    message: m.message === null ? null : storableText(m.message.slice(0, 1000)),
    requestId: m.requestId,
    at: m.at,
  });
}

/** The fleet's own audit log (operators' fleet operations), newest first. */
export async function listFleetAuditLog(store: Store, args: PageArgs): Promise<Page<AuditEntryRecord>> {
  return store.audit.page(null, pageRequest(args));
}

/** The caller's PBX's audit log, newest first. */
export async function listAuditLog(
  store: Store,
  caller: Caller,
  args: PageArgs,
): Promise<Page<AuditEntryRecord>> {
  return store.audit.page(caller.pbxId, pageRequest(args));
}
