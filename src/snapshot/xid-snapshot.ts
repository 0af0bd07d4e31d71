/** @module Which transactions a chunk's MVCC snapshot saw, read from `pg_current_snapshot()`. */
import { PgToBrokersError } from '../errors.ts'

/**
 * A snapshot as `xmin:xmax:xip,…` with 32-bit transaction ids, the width pgoutput sends them in.
 * Transactions before `xmin` had ended; from `xmax` on, and those in `inProgress`, had not.
 */
export interface XidSnapshot {
  readonly xmin: number
  readonly xmax: number
  readonly inProgress: ReadonlySet<number>
}

/** Parses `pg_current_snapshot()::text` (64-bit ids with an epoch) into 32-bit ids. */
export function parseXidSnapshot(text: string): XidSnapshot {
  const match = /^(\d+):(\d+):([\d,]*)$/.exec(text.trim())
  if (!match) throw new PgToBrokersError('protocol_error', `unexpected pg_current_snapshot() value "${text}"`)
  const low32 = (full: string) => Number(BigInt(full) & 0xffff_ffffn)
  const inProgress = new Set(match[3] ? match[3].split(',').map(low32) : [])
  return { xmin: low32(match[1]!), xmax: low32(match[2]!), inProgress }
}

/** True when `a` is older than `b`, modulo 2^32 as PostgreSQL compares normal transaction ids. */
export function xidPrecedes(a: number, b: number): boolean {
  return ((a - b) | 0) < 0
}

/** Whether a transaction that committed was visible to the snapshot (it ended before the snapshot was taken). */
export function committedBefore(snapshot: XidSnapshot, xid: number): boolean {
  if (xidPrecedes(xid, snapshot.xmin)) return true
  return xidPrecedes(xid, snapshot.xmax) && !snapshot.inProgress.has(xid)
}
