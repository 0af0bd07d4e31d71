/** @module A row read by a snapshot: a Change with operation READ, whose values are decoded from its tuple only when read. */
import type { Change } from '../change/change.ts'
import type { RelationSchema } from '../change/relations.ts'
import { decodeColumns } from '../change/row-change.ts'
import type { Lsn } from '../pg/lsn.ts'
import type { Tuple } from '../pg/pgoutput/tuple.ts'
import type { PgValue } from '../pg/values/types.ts'

/** What the rows of one chunk share. */
export interface SnapshotPosition {
  /** The snapshot request's id (its progress row), so a resumed run gives a row the same id. */
  readonly requestId: string | number | bigint
  /** Where the chunk was read: its low watermark, or the slot's consistent point for the initial snapshot. */
  readonly commitLsn: Lsn
}

const utf8 = new TextDecoder()

/**
 * One row as the snapshot read it. Its tuple holds every column of `relation` (the same layout as
 * pgoutput's), so formats encode it from bytes and its partition key is the stream's for the row.
 */
export class SnapshotChange implements Change {
  readonly operation = 'READ'
  readonly fields: readonly string[]
  readonly types: readonly string[]
  readonly unchangedToastFields = undefined
  readonly old = undefined
  readonly transactionId = 0
  readonly commitTime = null
  readonly truncate = undefined
  readonly message = undefined
  #values: readonly PgValue[] | undefined

  constructor(
    readonly relation: RelationSchema,
    readonly tuple: Tuple,
    /** Positions of the key columns (the table's pagination key), whose text the id names. */
    readonly keyIndexes: readonly number[],
    readonly position: SnapshotPosition,
    /** The row's index in its chunk. */
    readonly ordinal: number,
  ) {
    this.fields = relation.fields
    this.types = relation.types
  }

  /** `snapshot:<request id>:<key as a JSON array>`: the same for the row in a re-read of its chunk. */
  get id(): string {
    return `snapshot:${this.position.requestId}:${JSON.stringify(this.key)}`
  }

  /** The text of the key columns, read from the tuple when asked for (most rows are never asked). */
  get key(): string[] {
    return this.keyIndexes.map((index) => utf8.decode(this.tuple.column(index).subarray(5)))
  }

  get commitLsn(): Lsn {
    return this.position.commitLsn
  }

  /** Decoded on first read, with the relation's decoders, as a streamed row's are. */
  get values(): readonly PgValue[] {
    return (this.#values ??= decodeColumns(this.relation, this.tuple))
  }
}
