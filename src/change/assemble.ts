/** @module Turns decoded pgoutput messages into changes in commit order, with transaction boundaries. */
import { PgToBrokersError } from '../errors.ts'
import { formatLsn, type Lsn } from '../pg/lsn.ts'
import type { PgoutputMessage } from '../pg/pgoutput/messages.ts'
import type { Tuple } from '../pg/pgoutput/tuple.ts'
import type { Change } from './change.ts'
import { buildRelationSchema, type RelationCatalog, type RelationSchema } from './relations.ts'
import { keyChanged, oldValues, RowChange, type TransactionPosition } from './row-change.ts'

/** Receives the assembled stream. `commit` marks the point up to which everything was handed to `change`. */
export interface ChangeSink {
  change(change: Change): void | Promise<void>
  /** All changes of a transaction were passed to `change`; `endLsn` may be confirmed once they are durable. */
  commit(endLsn: Lsn): void | Promise<void>
}

interface OpenTransaction extends TransactionPosition {
  ordinal: number
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
        const txn = this.#transaction()
        return this.#sink.change(new RowChange('INSERT', this.#relation(message.relationOid), message.newTuple, false, undefined, txn, txn.ordinal++))
      }
      case 'Update': {
        const txn = this.#transaction()
        const relation = this.#relation(message.relationOid)
        if (message.oldTuple) return this.#updateWithOld(relation, message.oldTuple, message.oldKind === 'K', message.newTuple, txn)
        return this.#sink.change(new RowChange('UPDATE', relation, message.newTuple, false, undefined, txn, txn.ordinal++))
      }
      case 'Delete': {
        const txn = this.#transaction()
        const relation = this.#relation(message.relationOid)
        return this.#sink.change(new RowChange('DELETE', relation, message.oldTuple, message.oldKind === 'K', undefined, txn, txn.ordinal++))
      }
      case 'Truncate':
        return this.#truncate(message.relationOids, { cascade: message.cascade, restartIdentity: message.restartIdentity })
      case 'Message':
        return this.#message(message.prefix, message.content, message.transactional, message.lsn)
      case 'Origin':
      case 'Type':
        return
      default:
        throw new PgToBrokersError(
          'unexpected_message',
          `unexpected pgoutput message ${message.tag}: stream messages are for the ChangeReceiver, which spools and replays them`,
        )
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

  /**
   * An UPDATE that came with its old key ('K') or old row ('O'). When the key changed, a DELETE of
   * the old key goes first (the Debezium convention), so a consumer keyed by the row drops the old
   * key; it takes its own ordinal, which a re-send assigns the same way.
   */
  #updateWithOld(relation: RelationSchema, oldTuple: Tuple, keyOnly: boolean, newTuple: Tuple, txn: OpenTransaction): void | Promise<void> {
    const old = oldValues(relation, oldTuple, keyOnly)
    if (!keyChanged(relation, oldTuple, newTuple)) return this.#sink.change(new RowChange('UPDATE', relation, newTuple, false, old, txn, txn.ordinal++))
    const removal = new RowChange('DELETE', relation, oldTuple, keyOnly, undefined, txn, txn.ordinal++)
    const update = new RowChange('UPDATE', relation, newTuple, false, old, txn, txn.ordinal++)
    const pending = this.#sink.change(removal)
    return pending ? pending.then(() => this.#sink.change(update)) : this.#sink.change(update)
  }

  async #truncate(oids: readonly number[], options: { cascade: boolean; restartIdentity: boolean }): Promise<void> {
    const txn = this.#transaction()
    for (const oid of oids) {
      const relation = this.#relation(oid)
      await this.#sink.change(rowless(txn, 'TRUNCATE', { relation, truncate: options, message: undefined }))
    }
  }

  async #message(prefix: string, content: Uint8Array, transactional: boolean, lsn: Lsn): Promise<void> {
    // A non-transactional message stands alone: it is its own "transaction" at its own LSN.
    const txn = transactional ? this.#transaction() : { xid: 0, commitLsn: lsn, commitLsnText: formatLsn(lsn), commitTime: null, ordinal: 0 }
    await this.#sink.change(rowless(txn, 'MESSAGE', { relation: undefined, truncate: undefined, message: { prefix, content: content.slice(), transactional } }))
    if (!transactional) await this.#sink.commit(lsn)
  }
}

/** A change that carries no row (TRUNCATE, a logical message), with the next ordinal of its transaction. */
function rowless(txn: OpenTransaction, operation: 'TRUNCATE' | 'MESSAGE', about: Pick<Change, 'relation' | 'truncate' | 'message'>): Change {
  const ordinal = txn.ordinal++
  return {
    id: `${txn.commitLsnText}:${ordinal}`,
    operation,
    fields: [],
    types: [],
    values: [],
    unchangedToastFields: undefined,
    old: undefined,
    transactionId: txn.xid,
    commitLsn: txn.commitLsn,
    commitTime: txn.commitTime,
    ordinal,
    ...about,
  }
}
