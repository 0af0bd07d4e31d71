import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { CollectingWriter, dropSlot, sqlClient, startPipeline, TEST_URL, uniqueName, waitFor, waitForStreaming } from './support.ts'

test('streams INSERT/UPDATE/DELETE with the original record shape and confirms the slot', async () => {
  const sql = sqlClient()
  const table = uniqueName('t')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  try {
    await sql.unsafe(`create table ${table} (id int primary key, name text, note text, doc json)`)
    const writer = new CollectingWriter()
    const run = startPipeline({ postgres: { url: TEST_URL, slot, publication, tables: [table], createSlot: true, createPublication: true }, writer })
    await waitForStreaming(sql, slot)
    await sql.unsafe(`insert into ${table} values (1, 'Adidas2''s adadisss''''''', '', '{"codes":["21111"]}'), (2, null, 'x', null)`)
    await sql.unsafe(`update ${table} set note = 'y' where id = 2`)
    await sql.unsafe(`delete from ${table} where id = 1`)
    await waitFor(() => writer.records.length >= 4, 15_000, '4 records')
    await run.stop()
    const records = writer.parsed()
    assertEquals(
      records.map((r) => r.operation),
      ['INSERT', 'INSERT', 'UPDATE', 'DELETE'],
    )
    const first = records[0]!
    assertEquals(first.fields, ['id', 'name', 'note', 'doc'])
    assertEquals(first.types, ['integer', 'text', 'text', 'json'])
    assertEquals(first.values, [1, "Adidas2's adadisss'''", '', { codes: ['21111'] }])
    assertEquals(first.table_name, `public.${table}`)
    assert(typeof first.transaction_id === 'number' && first.transaction_id > 0, 'transaction_id is a number')
    assertEquals(records[1]!.values, [2, null, 'x', null])
    assertEquals(records[3]!.fields, ['id'])
    assertEquals(records[3]!.values, [1])
    assert(first.id === `${first.lsn}:0` && records[1]!.id === `${first.lsn}:1`, 'ids are commit LSN + ordinal')
    const [slotRow] = await sql`select confirmed_flush_lsn >= ${String(records[3]!.lsn)}::pg_lsn as past from pg_replication_slots where slot_name = ${slot}`
    assert(slotRow?.past === true, 'slot confirmed past the last delivered commit')
    await dropSlot(sql, slot)
  } finally {
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${publication}`)
    await sql.end()
  }
})

test('an idle or filtered stream still confirms the server WAL position (no WAL pile-up)', async () => {
  const sql = sqlClient()
  const watched = uniqueName('watched')
  const other = uniqueName('other')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  try {
    await sql.unsafe(`create table ${watched} (id int primary key); create table ${other} (id int primary key)`)
    const writer = new CollectingWriter()
    const run = startPipeline({ postgres: { url: TEST_URL, slot, publication, tables: [watched], createSlot: true, createPublication: true }, writer })
    await waitForStreaming(sql, slot)
    await sql.unsafe(`insert into ${other} select generate_series(1, 1000)`)
    const [{ lsn }] = (await sql<{ lsn: string }[]>`select pg_current_wal_insert_lsn()::text as lsn`) as unknown as [{ lsn: string }]
    await waitFor(
      async () => {
        const [row] = await sql<{ past: boolean }[]>`select confirmed_flush_lsn >= ${lsn}::pg_lsn as past from pg_replication_slots where slot_name = ${slot}`
        return row?.past === true
      },
      15_000,
      'the slot to confirm past the filtered changes',
    )
    assertEquals(writer.records.length, 0, 'no records for the unpublished table')
    await run.stop()
    await dropSlot(sql, slot)
  } finally {
    await sql.unsafe(`drop table if exists ${watched}, ${other}; drop publication if exists ${publication}`)
    await sql.end()
  }
})
