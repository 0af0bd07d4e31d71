/** @module Turns decoded pgoutput messages into changes in commit order, with transaction boundaries. */
import { PgToBrokersError } from '../errors.ts'
import { formatLsn, type Lsn } from '../pg/lsn.ts'
import { UNCHANGED_TOAST, type PgoutputMessage, type Tuple } from '../pg/pgoutput/messages.ts'
import type { PgValue } from '../pg/values/types.ts'
import type { Change, OldValues, Operation } from './change.ts'
import { buildRelationSchema, type RelationCatalog, type RelationSchema } from './relations.ts'

/** Receives the assembled stream. `commit` marks the point up to which everything was handed to `change`. */
export interface ChangeSink {
  change(change: Change): void | Promise<void>
  /** All changes of a transaction were passed to `change`; `endLsn` may be confirmed once they are durable. */
  commit(endLsn: Lsn): void | Promise<void>
}

interface OpenTransaction {
  readonly xid: number
  readonly commitLsn: Lsn
  readonly commitLsnText: string
  readonly commitTime: bigint | null
  ordinal: number
}

interface DecodedTuple {
  fields: readonly string[]
  types: readonly string[]
  values: PgValue[]
  unchanged: string[] | undefined
}

/**
 * Keeps the relation schemas and the open transaction. `handle` returns a promise only when it
 * must wait (a Relation message needs catalog look-ups, or the sink applies backpressure).
 */
export class TransactionAssembler {
  readonly #relations = new Map<number, RelationSchema>()
  readonly #catalog: RelationCatalog
  readonly #sink: ChangeSink
  #open: OpenTransaction | undefined

  constructor(catalog: RelationCatalog, sink: ChangeSink) {
    this.#catalog = catalog
    this.#sink = sink
  }

  /** True between Begin and Commit: the stream is mid-transaction and nothing may be confirmed. */
  get inTransaction(): boolean {
    return this.#open !== undefined
  }

  handle(message: PgoutputMessage): void | Promise<void> {
    switch (message.tag) {
      case 'Begin': {
        const commitLsnText = formatLsn(message.finalLsn)
        this.#open = { xid: message.xid, commitLsn: message.finalLsn, commitLsnText, commitTime: message.commitTime, ordinal: 0 }
        return
      }
      case 'Commit': {
        this.#open = undefined
        return this.#sink.commit(message.endLsn)
      }
      case 'Relation':
        return buildRelationSchema(message, this.#catalog).then((schema) => void this.#relations.set(schema.oid, schema))
      case 'Insert': {
        const relation = this.#relation(message.relationOid)
        return this.#emit('INSERT', relation, decodeTuple(relation, message.newTuple, false), undefined)
      }
      case 'Update': {
        const relation = this.#relation(message.relationOid)
        const old = message.oldTuple ? oldValues(relation, message.oldTuple, message.oldKind === 'K') : undefined
        return this.#emit('UPDATE', relation, decodeTuple(relation, message.newTuple, false), old)
      }
      case 'Delete': {
        const relation = this.#relation(message.relationOid)
        return this.#emit('DELETE', relation, decodeTuple(relation, message.oldTuple, message.oldKind === 'K'), undefined)
      }
      case 'Truncate':
        return this.#truncate(message.relationOids, { cascade: message.cascade, restartIdentity: message.restartIdentity })
      case 'Message':
        return this.#message(message.prefix, message.content, message.transactional, message.lsn)
      case 'Origin':
      case 'Type':
        return
      default:
        throw new PgToBrokersError('unexpected_message', `unexpected pgoutput message ${message.tag}: stream messages are for the ChangeReceiver, which spools and replays them`)
    }
  }

  #relation(oid: number): RelationSchema {
    const relation = this.#relations.get(oid)
    if (!relation) throw new PgToBrokersError('protocol_error', `pgoutput sent a change for relation ${oid} before its Relation message`)
    return relation
  }

  #transaction(): OpenTransaction {
    if (!this.#open) throw new PgToBrokersError('protocol_error', 'pgoutput sent a change outside a transaction')
    return this.#open
  }

  #emit(operation: Operation, relation: RelationSchema | undefined, tuple: DecodedTuple, old: OldValues | undefined): void | Promise<void> {
    const txn = this.#transaction()
    const ordinal = txn.ordinal++
    return this.#sink.change({
      id: `${txn.commitLsnText}:${ordinal}`,
      operation,
      relation,
      fields: tuple.fields,
      types: tuple.types,
      values: tuple.values,
      unchangedToastFields: tuple.unchanged,
      old,
      transactionId: txn.xid,
      commitLsn: txn.commitLsn,
      commitTime: txn.commitTime,
      ordinal,
      truncate: undefined,
      message: undefined,
    })
  }

  async #truncate(oids: readonly number[], options: { cascade: boolean; restartIdentity: boolean }): Promise<void> {
    const txn = this.#transaction()
    for (const oid of oids) {
      const relation = this.#relation(oid)
      const ordinal = txn.ordinal++
      await this.#sink.change({
        id: `${txn.commitLsnText}:${ordinal}`, operation: 'TRUNCATE', relation, fields: [], types: [], values: [],
        unchangedToastFields: undefined, old: undefined, transactionId: txn.xid, commitLsn: txn.commitLsn,
        commitTime: txn.commitTime, ordinal, truncate: options, message: undefined,
      })
    }
  }

  async #message(prefix: string, content: Uint8Array, transactional: boolean, lsn: Lsn): Promise<void> {
    // A non-transactional message stands alone: it is its own "transaction" at its own LSN.
    const txn = transactional ? this.#transaction() : { xid: 0, commitLsn: lsn, commitLsnText: formatLsn(lsn), commitTime: null, ordinal: 0 }
    const ordinal = txn.ordinal++
    await this.#sink.change({
      id: `${txn.commitLsnText}:${ordinal}`, operation: 'MESSAGE', relation: undefined, fields: [], types: [], values: [],
      unchangedToastFields: undefined, old: undefined, transactionId: txn.xid, commitLsn: txn.commitLsn,
      commitTime: txn.commitTime, ordinal, truncate: undefined, message: { prefix, content: content.slice(), transactional },
    })
    if (!transactional) await this.#sink.commit(lsn)
  }
}

/** Decodes a tuple with the relation's per-column decoders; `keyOnly` keeps just the replica identity columns. */
function decodeTuple(relation: RelationSchema, tuple: Tuple, keyOnly: boolean): DecodedTuple {
  const columns = relation.columns
  if (tuple.length !== columns.length) {
    throw new PgToBrokersError('protocol_error', `tuple for ${relation.qualifiedName} has ${tuple.length} columns, its Relation message ${columns.length}`)
  }
  const values: PgValue[] = new Array(columns.length)
  let unchanged: string[] | undefined
  let partial = keyOnly
  for (let i = 0; i < columns.length; i++) {
    const raw = tuple[i]
    if (raw === null || raw === undefined) values[i] = null
    else if (raw === UNCHANGED_TOAST) {
      ;(unchanged ??= []).push(columns[i]!.name)
      partial = true
    } else if (typeof raw === 'string') values[i] = columns[i]!.decode(raw)
    else values[i] = raw
  }
  if (!partial) return { fields: relation.fields, types: relation.types, values, unchanged }
  const fields: string[] = []
  const types: string[] = []
  const kept: PgValue[] = []
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i]!
    if (tuple[i] === UNCHANGED_TOAST || (keyOnly && !column.isReplicaIdentity)) continue
    fields.push(column.name)
    types.push(relation.types[i]!)
    kept.push(values[i]!)
  }
  return { fields, types, values: kept, unchanged }
}

function oldValues(relation: RelationSchema, tuple: Tuple, keyOnly: boolean): OldValues {
  const decoded = decodeTuple(relation, tuple, keyOnly)
  return { kind: keyOnly ? 'key' : 'row', fields: decoded.fields, types: decoded.types, values: decoded.values }
}
