/** @module The default record format, the original project's: {fields, values, types, table_name, operation, transaction_id, …}. */
import { formatLsn } from '../../pg/lsn.ts'
import { readInt32, type Tuple } from '../../pg/pgoutput/tuple.ts'
import { COLUMN_BINARY, COLUMN_TEXT } from '../../pg/pgoutput/tags.ts'
import type { Change, Operation } from '../change.ts'
import type { RelationSchema } from '../relations.ts'
import type { RecordFormat } from './format.ts'
import { JsonBytes } from './json-bytes.ts'
import { CommitFields, jsonStringList, jsonValueList, messageContentJson } from './json-parts.ts'
import { encodeJsonValue } from './json-value.ts'
import { textFormOf, writeTextAsJson, type TextForm } from './text-to-json.ts'

/** The text around a row's values that only depends on its relation (and operation): built once per relation. */
interface RelationText {
  /** `{"fields":[…],"values":` */
  readonly head: string
  /** `,"types":[…],"table_name":"s.t","operation":"` + operation + `"`, per operation. */
  readonly tails: Partial<Record<Operation, string>>
  readonly typesAndTable: string
  /** `head` + `[` as bytes, for rows encoded from the server's bytes. */
  readonly headBytes: Uint8Array
  /** How each column's text becomes JSON. */
  readonly forms: readonly TextForm[]
}

/** The bytes between a row's values and its ordinal, and what they were built for. */
interface MiddleBytes {
  readonly text: RelationText | undefined
  readonly operation: Operation | undefined
  readonly txSerial: number
  readonly bytes: Uint8Array
}

const utf8 = new TextEncoder()

/**
 * `{fields, values, types, table_name, operation, transaction_id}` followed by what consumers need
 * beyond the original shape: `id` (stable across re-sends), `lsn` (commit LSN), `commit_time`,
 * and when present `old`, `unchanged_toast_fields`, `truncate`, `message`.
 *
 * The text that repeats (field and type lists, table name, the transaction's id, LSN and commit
 * time) is built once per relation or transaction and reused, so a row costs little more than
 * its values.
 */
export class SeedFormat implements RecordFormat {
  readonly name = 'seed'
  readonly #commit = new CommitFields()
  readonly #relations = new WeakMap<RelationSchema, RelationText>()
  #lastRelation: RelationSchema | undefined
  #lastText: RelationText | undefined
  // The transaction's text: `,"transaction_id":N,"id":"` before the id, `","lsn":"X/Y","commit_time":…` after it.
  #txLsn = -1n
  #txId = -1
  #txTime: bigint | null = -1n
  #txBefore = ''
  #txAfter = ''
  /** Counts transactions seen, so that bytes cached for one are not reused for the next. */
  #txSerial = 0
  /** `]` + the tail + `#txBefore` + the commit LSN + ':' (up to the ordinal), for one relation, operation and transaction. */
  #middle: MiddleBytes = { text: undefined, operation: undefined, txSerial: -1, bytes: new Uint8Array(0) }
  /** `#txAfter` + `}` as bytes: the end of a row without old values. */
  #txEndBytes = new Uint8Array(0)
  readonly #out = new JsonBytes()

  encode(change: Change): Uint8Array {
    const out = this.#out
    out.begin()
    if (change.tuple && change.relation) this.#encodeFromBytes(change, change.relation, change.tuple)
    else out.text(this.#encodeText(change))
    return out.finish()
  }

  /** The record written from the server's bytes: no value is decoded unless its type needs it (see text-to-json.ts). */
  #encodeFromBytes(change: Change, relation: RelationSchema, tuple: Tuple): void {
    const out = this.#out
    const text = this.#textOf(relation)
    out.raw(text.headBytes)
    const forms = text.forms
    const columns = relation.columns
    const bytes = tuple.bytes
    let at = tuple.start
    for (let i = 0; i < tuple.columnCount; i++) {
      if (i > 0) out.byte(0x2c) // ,
      const kind = bytes[at]!
      if (kind === COLUMN_TEXT) {
        const end = at + 5 + readInt32(bytes, at + 1)
        writeTextAsJson(out, forms[i]!, columns[i]!, bytes, at + 5, end)
        at = end
      } else if (kind === COLUMN_BINARY) {
        const end = at + 5 + readInt32(bytes, at + 1)
        out.text(encodeJsonValue(bytes.subarray(at + 5, end)))
        at = end
      } else {
        out.ascii('null') // 'n'; a tuple with 'u' columns carries no `tuple`
        at++
      }
    }
    this.#transactionOf(change)
    const middle = this.#middle
    if (middle.text !== text || middle.operation !== change.operation || middle.txSerial !== this.#txSerial) {
      const tail = text.tails[change.operation] ?? this.#tail(text, change.operation)
      this.#middle = {
        text,
        operation: change.operation,
        txSerial: this.#txSerial,
        // A snapshot row's id names its snapshot and key, not a position in a transaction.
        bytes: utf8.encode(`]${tail}${this.#txBefore}${change.operation === 'READ' ? '' : `${formatLsn(change.commitLsn)}:`}`),
      }
    }
    out.raw(this.#middle.bytes)
    if (change.operation === 'READ') out.text(JSON.stringify(change.id).slice(1, -1))
    else out.integer(change.ordinal)
    if (change.old) out.text(`${this.#txAfter}${oldText(change.old)}}`)
    else out.raw(this.#txEndBytes)
  }

  /** The record as a string, from the decoded values: changes without a tuple (partial rows, truncates, messages). */
  #encodeText(change: Change): string {
    let out = this.#rowText(change)
    this.#transactionOf(change)
    out += this.#txBefore + (change.operation === 'READ' ? JSON.stringify(change.id).slice(1, -1) : change.id) + this.#txAfter
    if (change.old) out += oldText(change.old)
    if (change.unchangedToastFields) out += `,"unchanged_toast_fields":${JSON.stringify(change.unchangedToastFields)}`
    if (change.truncate) out += `,"truncate":{"cascade":${change.truncate.cascade},"restart_identity":${change.truncate.restartIdentity}}`
    if (change.message) {
      out += `,"message":{"prefix":${JSON.stringify(change.message.prefix)},${messageContentJson(change.message.content)},`
      out += `"transactional":${change.message.transactional}}`
    }
    return out + '}'
  }

  /** `{"fields":…,"values":[…],"types":…,"table_name":…,"operation":"…"`. */
  #rowText(change: Change): string {
    const relation = change.relation
    // The relation's own lists (not a subset: key-only old rows, unchanged TOAST) take the cached text.
    if (!relation || change.fields !== relation.fields || change.types !== relation.types) return genericRowText(change)
    const text = this.#textOf(relation)
    return text.head + jsonValueList(change.values) + (text.tails[change.operation] ?? this.#tail(text, change.operation))
  }

  #tail(text: RelationText, operation: Operation): string {
    return (text.tails[operation] = `${text.typesAndTable},"operation":"${operation}"`)
  }

  #textOf(relation: RelationSchema): RelationText {
    if (relation === this.#lastRelation) return this.#lastText!
    let text = this.#relations.get(relation)
    if (text === undefined) {
      const head = `{"fields":${jsonStringList(relation.fields)},"values":`
      text = {
        head,
        typesAndTable: `,"types":${jsonStringList(relation.types)},"table_name":${JSON.stringify(relation.qualifiedName)}`,
        tails: {},
        headBytes: utf8.encode(`${head}[`),
        forms: relation.columns.map(textFormOf),
      }
      this.#relations.set(relation, text)
    }
    this.#lastRelation = relation
    this.#lastText = text
    return text
  }

  /** Rebuilds the transaction's text when the change starts another transaction. */
  #transactionOf(change: Change): void {
    if (change.commitLsn === this.#txLsn && change.transactionId === this.#txId && change.commitTime === this.#txTime) return
    this.#txLsn = change.commitLsn
    this.#txId = change.transactionId
    this.#txTime = change.commitTime
    this.#txBefore = `,"transaction_id":${change.transactionId},"id":"`
    this.#txAfter = `","lsn":${this.#commit.lsn(change.commitLsn)},"commit_time":${this.#commit.time(change.commitTime)}`
    this.#txSerial++
    this.#txEndBytes = utf8.encode(`${this.#txAfter}}`)
  }
}

function oldText(old: NonNullable<Change['old']>): string {
  return `,"old":{"kind":"${old.kind}","fields":${jsonStringList(old.fields)},"values":${jsonValueList(old.values)},"types":${jsonStringList(old.types)}}`
}

function genericRowText(change: Change): string {
  let out = `{"fields":${jsonStringList(change.fields)},"values":${jsonValueList(change.values)},"types":${jsonStringList(change.types)}`
  out += `,"table_name":${change.relation ? JSON.stringify(change.relation.qualifiedName) : 'null'}`
  return out + `,"operation":"${change.operation}"`
}
