/** @module SeedFormat and DebeziumFormat: exact record text for each kind of change (records must stay byte-identical across versions). */
import { test } from '../harness.ts'
import { assertEquals } from '../assert.ts'
import type { Change } from '../../src/change/change.ts'
import { DebeziumFormat } from '../../src/change/formats/debezium.ts'
import { SeedFormat } from '../../src/change/formats/seed.ts'
import type { RelationSchema } from '../../src/change/relations.ts'
import { decoderFor } from '../../src/pg/values/decode.ts'
import { JsonText, type PgType } from '../../src/pg/values/types.ts'

const INT8: PgType = { oid: 20, name: 'bigint', scalarOid: 20, delimiter: ',' }
const TEXT: PgType = { oid: 25, name: 'text', scalarOid: 25, delimiter: ',' }
const JSONB: PgType = { oid: 3802, name: 'jsonb', scalarOid: 3802, delimiter: ',' }

function relation(name: string): RelationSchema {
  const columns = [
    { name: 'id', type: INT8, decode: decoderFor(INT8), isReplicaIdentity: true },
    { name: 'note', type: TEXT, decode: decoderFor(TEXT), isReplicaIdentity: false },
    { name: 'doc', type: JSONB, decode: decoderFor(JSONB), isReplicaIdentity: false },
  ]
  return {
    oid: 16384,
    schema: 'public',
    name,
    qualifiedName: `public.${name}`,
    replicaIdentity: 'd',
    columns,
    fields: columns.map((c) => c.name),
    types: columns.map((c) => c.type.name),
    keyIndexes: [0],
  }
}

const BENCH = relation('bench')
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
const QUOTED = relation('we"ird')

function change(overrides: Partial<Change>): Change {
  return {
    id: '0/16B3748:0',
    operation: 'INSERT',
    relation: BENCH,
    fields: BENCH.fields,
    types: BENCH.types,
    values: [1n, 'a "quoted" note\n', new JsonText('{"a": [1, 2.50]}')],
    unchangedToastFields: undefined,
    old: undefined,
    transactionId: 731,
    commitLsn: 0x16b3748n,
    commitTime: 817_000_000_123_456n,
    ordinal: 0,
    truncate: undefined,
    message: undefined,
    ...overrides,
  }
}

const CHANGES: readonly Change[] = [
  change({}),
  change({ id: '0/16B3748:1', ordinal: 1, values: [2n, null, null] }),
  change({ operation: 'UPDATE', values: [3n, 'ü ☃ 𝄞', new JsonText('[]')], old: { kind: 'key', fields: ['id'], types: ['bigint'], values: [3n] } }),
  change({ operation: 'UPDATE', fields: ['id', 'note'], types: ['bigint', 'text'], values: [4n, 'x'], unchangedToastFields: ['doc'] }),
  change({ operation: 'DELETE', fields: ['id'], types: ['bigint'], values: [5n], commitLsn: 0x1_0000_0000n, commitTime: 0n, id: '1/0:0' }),
  change({ relation: QUOTED, fields: QUOTED.fields, types: QUOTED.types }),
  change({ operation: 'TRUNCATE', fields: [], types: [], values: [], truncate: { cascade: true, restartIdentity: false } }),
  change({
    operation: 'MESSAGE',
    relation: undefined,
    fields: [],
    types: [],
    values: [],
    commitTime: null,
    transactionId: 0,
    message: { prefix: 'app', content: new TextEncoder().encode('hello'), transactional: false },
  }),
  change({
    operation: 'MESSAGE',
    relation: undefined,
    fields: [],
    types: [],
    values: [],
    message: { prefix: 'bin', content: new Uint8Array([0xff, 0]), transactional: true },
  }),
]

/** What the formats wrote for CHANGES before their fragment caches: the records must not change. */
const SEED_RECORDS: readonly string[] = [
  '{"fields":["id","note","doc"],"values":[1,"a \\"quoted\\" note\\n",{"a": [1, 2.50]}],"types":["bigint","text","jsonb"],' +
    '"table_name":"public.bench","operation":"INSERT","transaction_id":731,"id":"0/16B3748:0","lsn":"0/16B3748","commit_time":"2025-11-21T00:26:40.123456Z"}',
  '{"fields":["id","note","doc"],"values":[2,null,null],"types":["bigint","text","jsonb"],"table_name":"public.bench","operation":"INSERT",' +
    '"transaction_id":731,"id":"0/16B3748:1","lsn":"0/16B3748","commit_time":"2025-11-21T00:26:40.123456Z"}',
  '{"fields":["id","note","doc"],"values":[3,"ü ☃ 𝄞",[]],"types":["bigint","text","jsonb"],"table_name":"public.bench","operation":"UPDATE",' +
    '"transaction_id":731,"id":"0/16B3748:0","lsn":"0/16B3748","commit_time":"2025-11-21T00:26:40.123456Z","old":{"kind":"key","fields":["id"],' +
    '"values":[3],"types":["bigint"]}}',
  '{"fields":["id","note"],"values":[4,"x"],"types":["bigint","text"],"table_name":"public.bench","operation":"UPDATE","transaction_id":731,' +
    '"id":"0/16B3748:0","lsn":"0/16B3748","commit_time":"2025-11-21T00:26:40.123456Z","unchanged_toast_fields":["doc"]}',
  '{"fields":["id"],"values":[5],"types":["bigint"],"table_name":"public.bench","operation":"DELETE","transaction_id":731,"id":"1/0:0","lsn":"1/0",' +
    '"commit_time":"2000-01-01T00:00:00.000000Z"}',
  '{"fields":["id","note","doc"],"values":[1,"a \\"quoted\\" note\\n",{"a": [1, 2.50]}],"types":["bigint","text","jsonb"],' +
    '"table_name":"public.we\\"ird","operation":"INSERT","transaction_id":731,"id":"0/16B3748:0","lsn":"0/16B3748",' +
    '"commit_time":"2025-11-21T00:26:40.123456Z"}',
  '{"fields":[],"values":[],"types":[],"table_name":"public.bench","operation":"TRUNCATE","transaction_id":731,"id":"0/16B3748:0",' +
    '"lsn":"0/16B3748","commit_time":"2025-11-21T00:26:40.123456Z","truncate":{"cascade":true,"restart_identity":false}}',
  '{"fields":[],"values":[],"types":[],"table_name":null,"operation":"MESSAGE","transaction_id":0,"id":"0/16B3748:0","lsn":"0/16B3748",' +
    '"commit_time":null,"message":{"prefix":"app","content":"hello","transactional":false}}',
  '{"fields":[],"values":[],"types":[],"table_name":null,"operation":"MESSAGE","transaction_id":731,"id":"0/16B3748:0","lsn":"0/16B3748",' +
    '"commit_time":"2025-11-21T00:26:40.123456Z","message":{"prefix":"bin","content_hex":"\\\\xff00","transactional":true}}',
]

const DEBEZIUM_RECORDS: readonly string[] = [
  '{"before":null,"after":{"id":1,"note":"a \\"quoted\\" note\\n","doc":{"a": [1, 2.50]}},"source":{"connector":"pg_to_brokers","db":null,' +
    '"schema":"public","table":"bench","txId":731,"lsn":"0/16B3748","commit_time":"2025-11-21T00:26:40.123456Z","id":"0/16B3748:0"},"op":"c"}',
  '{"before":null,"after":{"id":2,"note":null,"doc":null},"source":{"connector":"pg_to_brokers","db":null,"schema":"public","table":"bench",' +
    '"txId":731,"lsn":"0/16B3748","commit_time":"2025-11-21T00:26:40.123456Z","id":"0/16B3748:1"},"op":"c"}',
  '{"before":{"id":3},"after":{"id":3,"note":"ü ☃ 𝄞","doc":[]},"source":{"connector":"pg_to_brokers","db":null,"schema":"public","table":"bench",' +
    '"txId":731,"lsn":"0/16B3748","commit_time":"2025-11-21T00:26:40.123456Z","id":"0/16B3748:0"},"op":"u"}',
  '{"before":null,"after":{"id":4,"note":"x"},"source":{"connector":"pg_to_brokers","db":null,"schema":"public","table":"bench","txId":731,' +
    '"lsn":"0/16B3748","commit_time":"2025-11-21T00:26:40.123456Z","id":"0/16B3748:0"},"op":"u","unchanged_toast_fields":["doc"]}',
  '{"before":{"id":5},"after":null,"source":{"connector":"pg_to_brokers","db":null,"schema":"public","table":"bench","txId":731,"lsn":"1/0",' +
    '"commit_time":"2000-01-01T00:00:00.000000Z","id":"1/0:0"},"op":"d"}',
  '{"before":null,"after":{"id":1,"note":"a \\"quoted\\" note\\n","doc":{"a": [1, 2.50]}},"source":{"connector":"pg_to_brokers","db":null,' +
    '"schema":"public","table":"we\\"ird","txId":731,"lsn":"0/16B3748","commit_time":"2025-11-21T00:26:40.123456Z","id":"0/16B3748:0"},"op":"c"}',
  '{"before":null,"after":null,"source":{"connector":"pg_to_brokers","db":null,"schema":"public","table":"bench","txId":731,"lsn":"0/16B3748",' +
    '"commit_time":"2025-11-21T00:26:40.123456Z","id":"0/16B3748:0"},"op":"t"}',
  '{"before":null,"after":null,"source":{"connector":"pg_to_brokers","db":null,"schema":null,"table":null,"txId":0,"lsn":"0/16B3748",' +
    '"commit_time":null,"id":"0/16B3748:0"},"op":"m","message":{"prefix":"app","content":"hello"}}',
  '{"before":null,"after":null,"source":{"connector":"pg_to_brokers","db":null,"schema":null,"table":null,"txId":731,"lsn":"0/16B3748",' +
    '"commit_time":"2025-11-21T00:26:40.123456Z","id":"0/16B3748:0"},"op":"m","message":{"prefix":"bin","content_hex":"\\\\xff00"}}',
]

test('seed records are exact, whatever came before (the cached fragments never leak between changes)', () => {
  const format = new SeedFormat()
  CHANGES.forEach((c, i) => assertEquals(text(format.encode(c)), SEED_RECORDS[i], `change ${i}`))
  // Again, in reverse: every cache now holds what the previous change left.
  for (let i = CHANGES.length - 1; i >= 0; i--) assertEquals(text(format.encode(CHANGES[i]!)), SEED_RECORDS[i], `change ${i}, reversed`)
})

test('a relation rebuilt by a new Relation message gets its new name', () => {
  const format = new SeedFormat()
  assertEquals(text(format.encode(change({}))), SEED_RECORDS[0])
  const renamed = { ...relation('renamed') }
  const record = format.encode(change({ relation: renamed, fields: renamed.fields, types: renamed.types }))
  assertEquals((JSON.parse(text(record)) as { table_name: string }).table_name, 'public.renamed')
})

test('debezium records are exact', () => {
  const format = new DebeziumFormat()
  CHANGES.forEach((c, i) => assertEquals(text(format.encode(c)), DEBEZIUM_RECORDS[i], `change ${i}`))
})
