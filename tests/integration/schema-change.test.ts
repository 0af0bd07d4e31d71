/**
 * Schema changes in the middle of a stream: ADD COLUMN (with a default), DROP COLUMN, ALTER COLUMN
 * TYPE (int → bigint, text → int USING …, both rewriting the table) and DDL inside a transaction
 * between two inserts; every record's fields, types and values follow the schema at that point.
 */
import { test } from '../harness.ts'
import { assertEquals } from '../assert.ts'
import { JsonText, type PgValue } from '../../src/pg/values/types.ts'
import { CollectingWriter, dropSlot, sqlClient, startPipeline, TEST_URL, uniqueName, waitFor, waitForStreaming } from './support.ts'

interface Expected {
  readonly operation: string
  readonly fields: string[]
  readonly types: string[]
  readonly values: PgValue[]
  /** The exact `values` JSON text of the record. */
  readonly json: string
}

test('records follow ADD COLUMN, DROP COLUMN and ALTER COLUMN TYPE mid-stream', async () => {
  const sql = sqlClient()
  const table = uniqueName('schema')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  let run: { stop: () => Promise<void> } | undefined
  try {
    await sql.unsafe(`create table ${table} (id int primary key, a int, b text, n text)`)
    const writer = new CollectingWriter()
    run = startPipeline({ postgres: { url: TEST_URL, slot, publication, tables: [table], createSlot: true, createPublication: true }, writer })
    await waitForStreaming(sql, slot)

    await sql.unsafe(`insert into ${table} values (1, 10, 'x', '42')`)
    await sql.unsafe(`alter table ${table} add column c jsonb default '{"d": 1}'`)
    await sql.unsafe(`insert into ${table} values (2, 20, 'y', '43', '{"e": 2}')`)
    await sql.unsafe(`update ${table} set a = 11 where id = 1`)
    await sql.unsafe(`alter table ${table} drop column b`)
    await sql.unsafe(`insert into ${table} values (3, 30, '44', '{}')`)
    await sql.unsafe(`alter table ${table} alter column a type bigint`)
    await sql.unsafe(`insert into ${table} values (4, 9007199254740993, '45', null)`)
    await sql.unsafe(`alter table ${table} alter column n type int using n::int + 1000`)
    await sql.unsafe(`insert into ${table} values (5, -9223372036854775808, 46, null)`)
    await sql.unsafe(`update ${table} set c = '[]' where id = 2`)
    // DDL between two inserts of one transaction: each change decoded with the schema of its moment.
    await sql.begin(async (tx) => {
      await tx.unsafe(`insert into ${table} values (6, 6, 6, null)`)
      await tx.unsafe(`alter table ${table} add column z text default 'zz', drop column c`)
      await tx.unsafe(`insert into ${table} (id, a, n) values (7, 7, 7)`)
      await tx.unsafe(`delete from ${table} where id = 3`)
    })
    await waitFor(() => writer.records.length >= 10, 15_000, '10 records')
    // A sentinel: once it arrives, anything else (e.g. rows copied by a rewrite) would have, too.
    await sql.unsafe(`insert into ${table} (id) values (100)`)
    await waitFor(() => writer.records.length >= 11, 15_000, 'the sentinel')
    await run.stop()

    const v1 = ['id', 'a', 'b', 'n']
    const v2 = ['id', 'a', 'b', 'n', 'c']
    const v3 = ['id', 'a', 'n', 'c']
    const v6 = ['id', 'a', 'n', 'z']
    const expected: Expected[] = [
      { operation: 'INSERT', fields: v1, types: ['integer', 'integer', 'text', 'text'], values: [1, 10, 'x', '42'], json: '[1,10,"x","42"]' },
      {
        operation: 'INSERT',
        fields: v2,
        types: ['integer', 'integer', 'text', 'text', 'jsonb'],
        values: [2, 20, 'y', '43', new JsonText('{"e": 2}')],
        json: '[2,20,"y","43",{"e": 2}]',
      },
      // The row written before ADD COLUMN carries the column's default once rewritten by UPDATE.
      {
        operation: 'UPDATE',
        fields: v2,
        types: ['integer', 'integer', 'text', 'text', 'jsonb'],
        values: [1, 11, 'x', '42', new JsonText('{"d": 1}')],
        json: '[1,11,"x","42",{"d": 1}]',
      },
      { operation: 'INSERT', fields: v3, types: ['integer', 'integer', 'text', 'jsonb'], values: [3, 30, '44', new JsonText('{}')], json: '[3,30,"44",{}]' },
      {
        operation: 'INSERT',
        fields: v3,
        types: ['integer', 'bigint', 'text', 'jsonb'],
        values: [4, 9007199254740993n, '45', null],
        json: '[4,9007199254740993,"45",null]',
      },
      {
        operation: 'INSERT',
        fields: v3,
        types: ['integer', 'bigint', 'integer', 'jsonb'],
        values: [5, -9223372036854775808n, 46, null],
        json: '[5,-9223372036854775808,46,null]',
      },
      // An old row after both type changes: a is bigint now, n went through USING.
      { operation: 'UPDATE', fields: v3, types: ['integer', 'bigint', 'integer', 'jsonb'], values: [2, 20n, 1043, new JsonText('[]')], json: '[2,20,1043,[]]' },
      { operation: 'INSERT', fields: v3, types: ['integer', 'bigint', 'integer', 'jsonb'], values: [6, 6n, 6, null], json: '[6,6,6,null]' },
      { operation: 'INSERT', fields: v6, types: ['integer', 'bigint', 'integer', 'text'], values: [7, 7n, 7, 'zz'], json: '[7,7,7,"zz"]' },
      { operation: 'DELETE', fields: ['id'], types: ['integer'], values: [3], json: '[3]' },
      { operation: 'INSERT', fields: v6, types: ['integer', 'bigint', 'integer', 'text'], values: [100, null, null, 'zz'], json: '[100,null,null,"zz"]' },
    ]
    // Between the first ten and the sentinel: nothing from the ALTER TYPE rewrites.
    assertEquals(writer.records.length, expected.length, 'record count')
    for (const [i, want] of expected.entries()) {
      const record = writer.records[i]!
      const c = record.change
      const where = `record ${i} (${want.operation} ${JSON.stringify(want.values, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))})`
      assertEquals(c.operation, want.operation, `${where} operation`)
      assertEquals(c.fields, want.fields, `${where} fields`)
      assertEquals(c.types, want.types, `${where} types`)
      assertEquals(c.values, want.values, `${where} values`)
      const parsed = JSON.parse(new TextDecoder().decode(record.data)) as { fields: unknown; types: unknown }
      assertEquals(parsed.fields, want.fields, `${where} record fields`)
      assertEquals(parsed.types, want.types, `${where} record types`)
      const text = new TextDecoder().decode(record.data)
      const start = text.indexOf('"values":') + '"values":'.length
      assertEquals(text.slice(start, text.indexOf(',"types":[')), want.json, `${where} record values`)
    }
    // The transaction with DDL inside: three changes (two schemas), one xid, ordinals 0..2.
    const last = writer.records.slice(7, 10).map((r) => r.change)
    assertEquals(
      last.map((c) => c.ordinal),
      [0, 1, 2],
    )
    assertEquals(new Set(last.map((c) => c.transactionId)).size, 1, 'one transaction')
  } finally {
    // Also after a failure: stop the pipeline so that the slot can go, then drop everything.
    await run?.stop().catch(() => {})
    await dropSlot(sql, slot)
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${publication}`)
    await sql.end()
  }
})
