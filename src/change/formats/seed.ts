/** @module The default record format, the original project's: {fields, values, types, table_name, operation, transaction_id, …}. */
import type { Change } from '../change.ts'
import type { RecordFormat } from './format.ts'
import { CommitFields, jsonStringList, jsonValueList, messageContentJson } from './json-parts.ts'

/**
 * `{fields, values, types, table_name, operation, transaction_id}` followed by what consumers need
 * beyond the original shape: `id` (stable across re-sends), `lsn` (commit LSN), `commit_time`,
 * and when present `old`, `unchanged_toast_fields`, `truncate`, `message`.
 */
export class SeedFormat implements RecordFormat {
  readonly name = 'seed'
  readonly #commit = new CommitFields()

  encode(change: Change): string {
    let out = `{"fields":${jsonStringList(change.fields)},"values":${jsonValueList(change.values)},"types":${jsonStringList(change.types)}`
    out += `,"table_name":${change.relation ? JSON.stringify(change.relation.qualifiedName) : 'null'}`
    out += `,"operation":"${change.operation}","transaction_id":${change.transactionId}`
    out += `,"id":"${change.id}","lsn":${this.#commit.lsn(change.commitLsn)},"commit_time":${this.#commit.time(change.commitTime)}`
    if (change.old) {
      out += `,"old":{"kind":"${change.old.kind}","fields":${jsonStringList(change.old.fields)},"values":${jsonValueList(change.old.values)},"types":${jsonStringList(change.old.types)}}`
    }
    if (change.unchangedToastFields) out += `,"unchanged_toast_fields":${JSON.stringify(change.unchangedToastFields)}`
    if (change.truncate) out += `,"truncate":{"cascade":${change.truncate.cascade},"restart_identity":${change.truncate.restartIdentity}}`
    if (change.message) {
      out += `,"message":{"prefix":${JSON.stringify(change.message.prefix)},${messageContentJson(change.message.content)},"transactional":${change.message.transactional}}`
    }
    return out + '}'
  }
}
