/** @module The change model: one committed row change (or truncate, or logical message) with its position. */
import type { Lsn } from '../pg/lsn.ts'
import type { Tuple } from '../pg/pgoutput/tuple.ts'
import type { PgValue } from '../pg/values/types.ts'
import type { RelationSchema } from './relations.ts'

/** READ is a row of a snapshot: the row as it was read, not a change made to it. */
export type Operation = 'INSERT' | 'UPDATE' | 'DELETE' | 'TRUNCATE' | 'MESSAGE' | 'READ'

/**
 * One change, in commit order. `fields`/`types`/`values` line up; for DELETE they hold the old
 * key (or the whole old row under REPLICA IDENTITY FULL). Columns whose unchanged TOAST value the
 * server did not send are left out of `fields` and named in `unchangedToastFields` — never faked.
 */
export interface Change {
  /** Stable across re-sends: the commit LSN and the change's ordinal inside its transaction (a snapshot row: its snapshot and key). */
  readonly id: string
  readonly operation: Operation
  /** The relation, or undefined for logical messages. */
  readonly relation: RelationSchema | undefined
  readonly fields: readonly string[]
  readonly types: readonly string[]
  readonly values: readonly PgValue[]
  readonly unchangedToastFields: readonly string[] | undefined
  /** Old values of UPDATE when the replica identity sent them ('K': key only, 'O': the full old row). */
  readonly old: OldValues | undefined
  readonly transactionId: number
  readonly commitLsn: Lsn
  /** Microseconds since 2000-01-01 UTC, as sent by the server; null for a non-transactional message. */
  readonly commitTime: bigint | null
  readonly ordinal: number
  readonly truncate: { readonly cascade: boolean; readonly restartIdentity: boolean } | undefined
  readonly message: { readonly prefix: string; readonly content: Uint8Array; readonly transactional: boolean } | undefined
  /**
   * The server's bytes behind `values`, when they hold every column of `relation` (so `fields`
   * is the relation's own list); undefined otherwise. A format may encode from them instead of
   * from `values`, which are then never decoded. Valid while the change is.
   */
  readonly tuple?: Tuple | undefined
}

export interface OldValues {
  readonly kind: 'key' | 'row'
  readonly fields: readonly string[]
  readonly types: readonly string[]
  readonly values: readonly PgValue[]
}

/** Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01). */
const PG_EPOCH_OFFSET_US = 946_684_800_000_000n

/** A PostgreSQL timestamp (µs since 2000-01-01) as ISO 8601 UTC with microseconds. */
export function formatPgTimestamp(us: bigint): string {
  const unixUs = us + PG_EPOCH_OFFSET_US
  const ms = unixUs / 1000n
  const micros = Number(((unixUs % 1_000_000n) + 1_000_000n) % 1_000_000n)
  const iso = new Date(Number(ms)).toISOString()
  return `${iso.slice(0, 19)}.${String(micros).padStart(6, '0')}Z`
}

/** The table name as records show it: "schema.table". */
export function tableNameOf(change: Change): string | null {
  return change.relation?.qualifiedName ?? null
}
