/** @module A row change (INSERT, UPDATE, DELETE) whose values are decoded from the server's bytes only when read. */
import type { Lsn } from '../pg/lsn.ts'
import { UNCHANGED_TOAST, type Tuple } from '../pg/pgoutput/tuple.ts'
import { COLUMN_UNCHANGED } from '../pg/pgoutput/tags.ts'
import { PgToBrokersError } from '../errors.ts'
import type { PgValue } from '../pg/values/types.ts'
import type { Change, OldValues, Operation } from './change.ts'
import type { RelationSchema } from './relations.ts'

/** What a row change shares with the other changes of its transaction. */
export interface TransactionPosition {
  readonly xid: number
  readonly commitLsn: Lsn
  readonly commitLsnText: string
  readonly commitTime: bigint | null
}

/**
 * A row change. When the tuple holds every column (the usual case), `values` are decoded on first
 * read and `tuple` stays available, so a format that encodes from bytes never decodes them.
 * Otherwise (key-only or unchanged-TOAST tuples) the kept columns are decoded at once.
 */
export class RowChange implements Change {
  readonly relation: RelationSchema
  readonly fields: readonly string[]
  readonly types: readonly string[]
  readonly unchangedToastFields: readonly string[] | undefined
  readonly tuple: Tuple | undefined
  readonly truncate = undefined
  readonly message = undefined
  #values: readonly PgValue[] | undefined

  constructor(
    readonly operation: Operation,
    relation: RelationSchema,
    tuple: Tuple,
    keyOnly: boolean,
    readonly old: OldValues | undefined,
    readonly position: TransactionPosition,
    readonly ordinal: number,
  ) {
    checkColumnCount(relation, tuple)
    this.relation = relation
    if (keyOnly || tuple.hasUnchangedToast) {
      const kept = keptColumns(relation, tuple, keyOnly)
      this.fields = kept.fields
      this.types = kept.types
      this.#values = kept.values
      this.unchangedToastFields = kept.unchanged
      this.tuple = undefined
    } else {
      this.fields = relation.fields
      this.types = relation.types
      this.unchangedToastFields = undefined
      this.tuple = tuple
    }
  }

  get id(): string {
    return `${this.position.commitLsnText}:${this.ordinal}`
  }

  get transactionId(): number {
    return this.position.xid
  }

  get commitLsn(): Lsn {
    return this.position.commitLsn
  }

  get commitTime(): bigint | null {
    return this.position.commitTime
  }

  /** Decoded on first read (a decoder's error for malformed server text surfaces here). */
  get values(): readonly PgValue[] {
    return (this.#values ??= decodeColumns(this.relation, this.tuple!))
  }
}

/** The old row or key of an UPDATE, decoded at once (it is only sent for key changes or REPLICA IDENTITY FULL). */
export function oldValues(relation: RelationSchema, tuple: Tuple, keyOnly: boolean): OldValues {
  checkColumnCount(relation, tuple)
  const kept = keptColumns(relation, tuple, keyOnly)
  return { kind: keyOnly ? 'key' : 'row', fields: kept.fields, types: kept.types, values: kept.values }
}

/**
 * True when an UPDATE changed its key (`relation.keyIndexes`): the server sends the old key also
 * for an unchanged key with TOASTed values, and the whole old row under FULL, so the values are
 * compared, as the bytes the server sent (the text partition keys are made of); an unchanged
 * TOASTed value ('u') is unchanged.
 */
export function keyChanged(relation: RelationSchema, oldTuple: Tuple, newTuple: Tuple): boolean {
  for (const i of relation.keyIndexes) {
    const before = oldTuple.column(i)
    const after = newTuple.column(i)
    if (before[0] === COLUMN_UNCHANGED || after[0] === COLUMN_UNCHANGED) continue
    if (before.length !== after.length || before.some((byte, j) => byte !== after[j])) return true
  }
  return false
}

function checkColumnCount(relation: RelationSchema, tuple: Tuple): void {
  if (tuple.columnCount !== relation.columns.length) {
    throw new PgToBrokersError(
      'protocol_error',
      `tuple for ${relation.qualifiedName} has ${tuple.columnCount} columns, its Relation message ${relation.columns.length}`,
    )
  }
}

/** Every column, with the relation's per-column decoders ('u' never reaches here: such tuples are decoded by keptColumns). */
export function decodeColumns(relation: RelationSchema, tuple: Tuple): PgValue[] {
  const columns = relation.columns
  return tuple.values().map((value, i) => (typeof value === 'string' ? columns[i]!.decode(value) : value === UNCHANGED_TOAST ? null : value))
}

interface KeptColumns {
  readonly fields: string[]
  readonly types: string[]
  readonly values: PgValue[]
  readonly unchanged: string[] | undefined
}

/** The columns a partial tuple holds: without unchanged TOAST ones, and only the replica identity when `keyOnly`. */
function keptColumns(relation: RelationSchema, tuple: Tuple, keyOnly: boolean): KeptColumns {
  const raw = tuple.values()
  const fields: string[] = []
  const types: string[] = []
  const values: PgValue[] = []
  let unchanged: string[] | undefined
  for (let i = 0; i < raw.length; i++) {
    const column = relation.columns[i]!
    const value = raw[i]!
    if (value === UNCHANGED_TOAST) (unchanged ??= []).push(column.name)
    else if (!keyOnly || column.isReplicaIdentity) {
      fields.push(column.name)
      types.push(relation.types[i]!)
      values.push(typeof value === 'string' ? column.decode(value) : value)
    }
  }
  return { fields, types, values, unchanged }
}
