import type { EntityManager } from '@mikro-orm/core';

/** The store's clock: the one the gateway (or a test) opens the store with. */
export type Clock = () => Date;

const clocks = new WeakMap<EntityManager, Clock>();

/** Makes `now` the clock of every write through `em` (openStore, and each transaction's fork). */
export function bindClock(em: EntityManager, now: Clock): void {
  clocks.set(em, now);
}

/**
 * The `onUpdate` of every `updatedAt` column. MikroORM calls it, with the EntityManager that
 * flushes, only when a flush finds the entity changed (a write that changes nothing leaves
 * `updatedAt` alone, which the sync's "nothing changed since the last run" check relies on).
 * Repositories set `createdAt` / `updatedAt` of new rows, and of rows they update with
 * native statements, from the same clock; the entities' defaults are never what is stored.
 */
export function updatedNow(_entity: unknown, em: EntityManager): Date {
  const now = clocks.get(em);
  if (!now)
    throw new Error(
      'An update was flushed through an EntityManager without a clock: use openStore(orm, now)',
    );
  return now();
}
