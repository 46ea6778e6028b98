/**
 * Change log of one directory collection (users or groups), the source of delta queries.
 *
 * Every change appends one entry with the tenant-wide sequence number at which it
 * happened, a bit mask of the properties it touched, lifecycle flags and (for groups)
 * membership operations. Entries of the same object are chained (`prev` / `next`), so a
 * delta round walks only the entries after its token's sequence: it emits an object at
 * the object's last entry inside the round's window, and ORs the chained masks inside
 * the window to know what changed. No scan of the whole collection is needed.
 */
export const CHANGE_CREATED = 1;
export const CHANGE_SOFT_DELETED = 2;
export const CHANGE_RESTORED = 4;
export const CHANGE_HARD_DELETED = 8;
export const CHANGE_MEMBERS = 16;

/** [member id, added (true) or removed (false), member is a group]. */
export type MemberOp = [string, boolean, boolean];

export interface Chained {
  id: string;
  /** Index of this object's last entry in its change log, -1 when none. */
  lastLog: number;
}

/** In a log of ascending sequence numbers: the index of the first entry whose sequence is greater than `seq`. */
export function firstEntryAfter(seqs: readonly number[], seq: number): number {
  let lo = 0;
  let hi = seqs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((seqs[mid] as number) <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Entry `at` (entries chained per object by `next`, -1 at the end) is its object's last with a sequence ≤ `to`. */
export function isLastEntryWithin(
  seqs: readonly number[],
  next: readonly number[],
  at: number,
  to: number,
): boolean {
  const n = next[at] as number;
  return n < 0 || (seqs[n] as number) > to;
}

export class ChangeLog {
  readonly seq: number[] = [];
  readonly ids: string[] = [];
  readonly masks: number[] = [];
  readonly flags: number[] = [];
  readonly prev: number[] = [];
  readonly next: number[] = [];
  readonly times: number[] = [];
  readonly ops = new Map<number, MemberOp[]>();

  get length(): number {
    return this.seq.length;
  }

  append(obj: Chained, seq: number, mask: number, flags: number, ops?: MemberOp[]): number {
    const idx = this.seq.length;
    this.seq.push(seq);
    this.ids.push(obj.id);
    this.masks.push(mask);
    this.flags.push(flags);
    this.prev.push(obj.lastLog);
    this.next.push(-1);
    this.times.push(Date.now());
    if (ops && ops.length > 0) this.ops.set(idx, ops);
    if (obj.lastLog >= 0) this.next[obj.lastLog] = idx;
    obj.lastLog = idx;
    return idx;
  }

  /** Index of the first entry whose sequence is greater than `seq`. */
  firstAfter(seq: number): number {
    return firstEntryAfter(this.seq, seq);
  }

  /** True when entry `idx` is its object's last entry with a sequence ≤ `to`. */
  isLastWithin(idx: number, to: number): boolean {
    return isLastEntryWithin(this.seq, this.next, idx, to);
  }

  /**
   * What changed for the object of entry `idx` in the window (from, seq(idx)]:
   * the OR of property masks and flags, and the membership operations in order.
   */
  collect(idx: number, from: number): { mask: number; flags: number; ops: MemberOp[] } {
    let mask = 0;
    let flags = 0;
    const chunks: MemberOp[][] = [];
    for (let i = idx; i >= 0 && (this.seq[i] as number) > from; i = this.prev[i] as number) {
      mask |= this.masks[i] as number;
      flags |= this.flags[i] as number;
      const o = this.ops.get(i);
      if (o) chunks.push(o);
    }
    const ops: MemberOp[] = [];
    for (let c = chunks.length - 1; c >= 0; c--) for (const op of chunks[c] as MemberOp[]) ops.push(op);
    return { mask, flags, ops };
  }
}
