/** @module The key that names a row across its changes: its table and replica-identity values. */
import type { Change } from './change.ts'
import { encodeJsonValue } from './formats/json-value.ts'

/**
 * `schema.table:<key values as JSON>…`, the key being the replica identity (the primary key under
 * DEFAULT, the index under USING INDEX; the primary key under FULL), so INSERT, UPDATE, DELETE and
 * a snapshot's READ of one row share it. Tables without a key, and TRUNCATE (which has no row),
 * give `schema.table`; logical messages their prefix.
 */
export function rowKeyOf(change: Change): string {
  const relation = change.relation
  if (!relation) return change.message?.prefix ?? 'message'
  if (change.operation === 'TRUNCATE' || relation.keyIndexes.length === 0) return relation.qualifiedName
  if (change.fields !== relation.fields) return keyFromNamedFields(change)
  let key = relation.qualifiedName
  for (const i of relation.keyIndexes) key += ':' + encodeJsonValue(change.values[i]!)
  return key
}

/**
 * Key values by column name, for changes whose field list is not the relation's full list (DELETE
 * keys, TOAST). A key column left out as unchanged TOAST is taken from the UPDATE's old key, which
 * the server sends in just that case.
 */
function keyFromNamedFields(change: Change): string {
  const relation = change.relation!
  let key = relation.qualifiedName
  for (const i of relation.keyIndexes) {
    const name = relation.fields[i]!
    const position = change.fields.indexOf(name)
    const oldPosition = position < 0 && change.old ? change.old.fields.indexOf(name) : -1
    if (position < 0 && oldPosition < 0) return relation.qualifiedName
    key += ':' + encodeJsonValue(position >= 0 ? change.values[position]! : change.old!.values[oldPosition]!)
  }
  return key
}
