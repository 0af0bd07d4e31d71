/**
 * @module Snapshot rows as records: the seed format's byte path and value path give the same
 * bytes, the id (which holds the key's text, quotes and all) stays valid JSON, and the Debezium
 * format calls the operation `r` with the row as `after`.
 */
import { test } from '../harness.ts'
import { assertEquals } from '../assert.ts'
import type { Change } from '../../src/change/change.ts'
import { DebeziumFormat } from '../../src/change/formats/debezium.ts'
import { SeedFormat } from '../../src/change/formats/seed.ts'
import type { RelationSchema } from '../../src/change/relations.ts'
import { Tuple } from '../../src/pg/pgoutput/tuple.ts'
import { decoderFor } from '../../src/pg/values/decode.ts'
import type { PgType } from '../../src/pg/values/types.ts'
import { SnapshotChange } from '../../src/snapshot/snapshot-change.ts'
import { rowKeyOf } from '../../src/change/row-key.ts'

const TEXT: PgType = { oid: 25, name: 'text', scalarOid: 25, delimiter: ',' }
const INT4: PgType = { oid: 23, name: 'integer', scalarOid: 23, delimiter: ',' }
const RELATION: RelationSchema = {
  oid: 16_400,
  schema: 'public',
  name: 'orders',
  qualifiedName: 'public.orders',
  replicaIdentity: 'd',
  columns: [
    { name: 'code', type: TEXT, decode: decoderFor(TEXT), isReplicaIdentity: true },
    { name: 'n', type: INT4, decode: decoderFor(INT4), isReplicaIdentity: false },
  ],
  fields: ['code', 'n'],
  types: ['text', 'integer'],
  keyIndexes: [0],
}

function tupleOf(texts: readonly (string | null)[]): Tuple {
  const utf8 = new TextEncoder()
  const parts: number[] = [0, texts.length]
  for (const text of texts) {
    if (text === null) parts.push(0x6e)
    else {
      const bytes = utf8.encode(text)
      parts.push(0x74, 0, 0, (bytes.length >>> 8) & 0xff, bytes.length & 0xff, ...bytes)
    }
  }
  return Tuple.read(new Uint8Array(parts), 0).tuple
}

const KEY = 'a "quoted" \\ key'
const row = new SnapshotChange(RELATION, tupleOf([KEY, '7']), [0], { requestId: '12', commitLsn: 0x16b3748n }, 3)

test('snapshot row, seed format: READ, its id holds the key and survives JSON; the byte path equals the value path', () => {
  const decoder = new TextDecoder()
  const fromBytes = decoder.decode(new SeedFormat().encode(row))
  const withoutTuple: Change = { ...pick(row), tuple: undefined }
  const fromValues = decoder.decode(new SeedFormat().encode(withoutTuple))
  assertEquals(fromBytes, fromValues)
  const record = JSON.parse(fromBytes) as Record<string, unknown>
  assertEquals(record.operation, 'READ')
  assertEquals(record.values, [KEY, 7])
  assertEquals(record.id, `snapshot:12:${JSON.stringify([KEY])}`)
  assertEquals(record.id, row.id)
  assertEquals(record.transaction_id, 0)
  assertEquals(record.lsn, '0/16B3748')
})

test('snapshot row, Debezium format: op r, the row as after, before null', () => {
  const record = JSON.parse(new TextDecoder().decode(new DebeziumFormat().encode(row))) as Record<string, unknown>
  assertEquals(record.op, 'r')
  assertEquals(record.before, null)
  assertEquals(record.after, { code: KEY, n: 7 })
  assertEquals((record.source as Record<string, unknown>).id, row.id)
})

test('snapshot row: its row key is the stream’s key for the same row', () => {
  assertEquals(rowKeyOf(row), `public.orders:${JSON.stringify(KEY)}`)
})

function pick(change: SnapshotChange): Change {
  return {
    id: change.id,
    operation: change.operation,
    relation: change.relation,
    fields: change.fields,
    types: change.types,
    values: change.values,
    unchangedToastFields: undefined,
    old: undefined,
    transactionId: change.transactionId,
    commitLsn: change.commitLsn,
    commitTime: change.commitTime,
    ordinal: change.ordinal,
    truncate: undefined,
    message: undefined,
  }
}
