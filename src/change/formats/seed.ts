/** @module The default record format, the original project's: {fields, values, types, table_name, operation, transaction_id, …}. */
import type { Change, Operation } from '../change.ts'
import type { RelationSchema } from '../relations.ts'
import type { RecordFormat } from './format.ts'
import { CommitFields, jsonStringList, jsonValueList, messageContentJson } from './json-parts.ts'

/** The text around a row's values that only depends on its relation (and operation): built once per relation. */
interface RelationText {
  /** `{"fields":[…],"values":` */
  readonly head: string
  /** `,"types":[…],"table_name":"s.t","operation":"` + operation + `"`, per operation. */
  readonly tails: Partial<Record<Operation, string>>
  readonly typesAndTable: string
}

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

  encode(change: Change): string {
    let out = this.#rowText(change)
    if (change.commitLsn !== this.#txLsn || change.transactionId !== this.#txId || change.commitTime !== this.#txTime) this.#transaction(change)
    out += this.#txBefore + change.id + this.#txAfter
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

  /** `{"fields":…,"values":[…],"types":…,"table_name":…,"operation":"…"`. */
  #rowText(change: Change): string {
    const relation = change.relation
    // The relation's own lists (not a subset: key-only old rows, unchanged TOAST) take the cached text.
    if (!relation || change.fields !== relation.fields || change.types !== relation.types) return genericRowText(change)
    const text = this.#textOf(relation)
    return text.head + jsonValueList(change.values) + (text.tails[change.operation] ??= `${text.typesAndTable},"operation":"${change.operation}"`)
  }

  #textOf(relation: RelationSchema): RelationText {
    if (relation === this.#lastRelation) return this.#lastText!
    let text = this.#relations.get(relation)
    if (text === undefined) {
      text = {
        head: `{"fields":${jsonStringList(relation.fields)},"values":`,
        typesAndTable: `,"types":${jsonStringList(relation.types)},"table_name":${JSON.stringify(relation.qualifiedName)}`,
        tails: {},
      }
      this.#relations.set(relation, text)
    }
    this.#lastRelation = relation
    this.#lastText = text
    return text
  }

  #transaction(change: Change): void {
    this.#txLsn = change.commitLsn
    this.#txId = change.transactionId
    this.#txTime = change.commitTime
    this.#txBefore = `,"transaction_id":${change.transactionId},"id":"`
    this.#txAfter = `","lsn":${this.#commit.lsn(change.commitLsn)},"commit_time":${this.#commit.time(change.commitTime)}`
  }
}

function genericRowText(change: Change): string {
  let out = `{"fields":${jsonStringList(change.fields)},"values":${jsonValueList(change.values)},"types":${jsonStringList(change.types)}`
  out += `,"table_name":${change.relation ? JSON.stringify(change.relation.qualifiedName) : 'null'}`
  return out + `,"operation":"${change.operation}"`
}
