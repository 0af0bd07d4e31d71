/** @module An optional Debezium-style envelope: {before, after, source, op, ts_ms}; never the default. */
import type { Change } from '../change.ts'
import type { RecordFormat } from './format.ts'
import { encodeJsonValue } from './json-value.ts'
import type { PgValue } from '../../pg/values/types.ts'
import { CommitFields, messageContentJson } from './json-parts.ts'

const utf8 = new TextEncoder()
const OP_CODES = { INSERT: 'c', UPDATE: 'u', DELETE: 'd', TRUNCATE: 't', MESSAGE: 'm', READ: 'r' } as const

/**
 * `before`/`after` are objects keyed by column name (unchanged TOAST columns are left out of
 * `after` and listed in `unchanged_toast_fields`); `source` carries the table, transaction id,
 * commit LSN and the stable record `id`.
 */
export class DebeziumFormat implements RecordFormat {
  readonly name = 'debezium'
  readonly #commit = new CommitFields()

  encode(change: Change): Uint8Array {
    return utf8.encode(this.#text(change))
  }

  #text(change: Change): string {
    const row = rowJson(change.fields, change.values)
    const before = change.operation === 'DELETE' ? row : change.old ? rowJson(change.old.fields, change.old.values) : 'null'
    const after = change.operation === 'INSERT' || change.operation === 'UPDATE' || change.operation === 'READ' ? row : 'null'
    const relation = change.relation
    let source = `{"connector":"pg_to_brokers","db":null,"schema":${relation ? JSON.stringify(relation.schema) : 'null'}`
    source += `,"table":${relation ? JSON.stringify(relation.name) : 'null'},"txId":${change.transactionId}`
    source += `,"lsn":${this.#commit.lsn(change.commitLsn)},"commit_time":${this.#commit.time(change.commitTime)},"id":${JSON.stringify(change.id)}}`
    let out = `{"before":${before},"after":${after},"source":${source},"op":"${OP_CODES[change.operation]}"`
    if (change.unchangedToastFields) out += `,"unchanged_toast_fields":${JSON.stringify(change.unchangedToastFields)}`
    if (change.message) out += `,"message":{"prefix":${JSON.stringify(change.message.prefix)},${messageContentJson(change.message.content)}}`
    return out + '}'
  }
}

function rowJson(fields: readonly string[], values: readonly PgValue[]): string {
  let out = '{'
  for (let i = 0; i < fields.length; i++) {
    if (i > 0) out += ','
    out += `${JSON.stringify(fields[i])}:${encodeJsonValue(values[i]!)}`
  }
  return out + '}'
}
