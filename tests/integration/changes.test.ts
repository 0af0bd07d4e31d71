/**
 * Every kind of change a real server sends: UPDATE with and without old values (default identity,
 * primary-key change, REPLICA IDENTITY FULL), DELETE keys and full rows, TRUNCATE of several tables
 * with its flags, transactional and non-transactional logical messages, and unchanged TOAST values.
 */
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import type postgres from 'postgres'
import { CollectingWriter, dropSlot, requireServer, sqlClient, startPipeline, TEST_URL, uniqueName, waitFor, waitForStreaming } from './support.ts'

interface Stream {
  readonly writer: CollectingWriter
  readonly stop: () => Promise<void>
}

/** Starts a pipeline on a fresh slot and publication for `tables`, once the slot is active. */
async function startStream(sql: postgres.Sql, slot: string, publication: string, tables: string[], messagePrefixes: string[] = []): Promise<Stream> {
  const writer = new CollectingWriter()
  const run = startPipeline({ postgres: { url: TEST_URL, slot, publication, tables, createSlot: true, createPublication: true, messagePrefixes }, writer })
  await waitForStreaming(sql, slot)
  return { writer, stop: run.stop }
}

/** Also after a failure: stops the pipeline so that the slot can go, then drops slot, tables and publication. */
async function cleanUp(sql: postgres.Sql, stream: Stream | undefined, slot: string, publication: string, tables: string[]): Promise<void> {
  try {
    await stream?.stop().catch(() => {})
    await dropSlot(sql, slot)
  } finally {
    await sql.unsafe(`drop table if exists ${tables.join(', ')} cascade; drop publication if exists ${publication}`)
    await sql.end()
  }
}

test('UPDATE and DELETE: default identity, primary-key change, REPLICA IDENTITY FULL', async () => {
  const sql = sqlClient()
  const plain = uniqueName('plain')
  const full = uniqueName('full')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  let stream: Stream | undefined
  try {
    await sql.unsafe(`
      create table ${plain} (id int primary key, name text, n int);
      create table ${full} (id int primary key, name text, n int);
      alter table ${full} replica identity full;
      insert into ${plain} values (1, 'one', 10), (2, 'two', 20);
      insert into ${full} values (1, 'one', null), (2, 'two', 20)`)
    stream = await startStream(sql, slot, publication, [plain, full])
    const { writer, stop } = stream
    await sql.unsafe(`update ${plain} set name = 'uno' where id = 1`)
    await sql.unsafe(`update ${plain} set id = 100 where id = 2`)
    await sql.unsafe(`delete from ${plain} where id = 100`)
    await sql.unsafe(`update ${full} set name = 'UNO', n = 11 where id = 1`)
    await sql.unsafe(`delete from ${full} where id = 1`)
    await sql.unsafe(`update ${full} set id = 200 where id = 2`)
    await waitFor(() => writer.records.length >= 8, 15_000, '8 records')
    await stop()

    assertEquals(writer.records.length, 8, 'record count: six changes, and a DELETE before each key-changing UPDATE')
    // The DELETE of the old key before a key-changing UPDATE (see keys.test.ts), set aside here.
    assertEquals(
      [1, 6].map((i) => [writer.records[i]!.change.operation, writer.records[i]!.partitionKey]),
      [
        ['DELETE', `public.${plain}:2`],
        ['DELETE', `public.${full}:2`],
      ],
    )
    const records = writer.records.filter((_, i) => i !== 1 && i !== 6)
    const [c1, c2, c3, c4, c5, c6] = records.map((r) => r.change)
    const [r1, r2, r3, r4, r5, r6] = writer.parsed().filter((_, i) => i !== 1 && i !== 6)

    // Default identity, key unchanged: the new row only.
    assertEquals(c1!.operation, 'UPDATE')
    assertEquals(c1!.fields, ['id', 'name', 'n'])
    assertEquals(c1!.types, ['integer', 'text', 'integer'])
    assertEquals(c1!.values, [1, 'uno', 10])
    assertEquals(c1!.old, undefined, 'no old values under the default identity')
    assertEquals(c1!.unchangedToastFields, undefined)
    assert(!('old' in r1!) && !('unchanged_toast_fields' in r1!), 'record has no old / unchanged_toast_fields')
    assertEquals(r1!.values, [1, 'uno', 10])
    assertEquals(records[0]!.partitionKey, `public.${plain}:1`)

    // Default identity, key changed: the old key is sent.
    assertEquals(c2!.operation, 'UPDATE')
    assertEquals(c2!.values, [100, 'two', 20])
    assertEquals(c2!.old, { kind: 'key', fields: ['id'], types: ['integer'], values: [2] })
    assertEquals(r2!.old, { kind: 'key', fields: ['id'], values: [2], types: ['integer'] })
    assertEquals(records[1]!.partitionKey, `public.${plain}:100`)

    // Default identity DELETE: key columns only.
    assertEquals(c3!.operation, 'DELETE')
    assertEquals(c3!.fields, ['id'])
    assertEquals(c3!.types, ['integer'])
    assertEquals(c3!.values, [100])
    assertEquals(c3!.old, undefined)
    assertEquals([r3!.fields, r3!.values, r3!.types], [['id'], [100], ['integer']])
    assertEquals(records[2]!.partitionKey, `public.${plain}:100`)

    // REPLICA IDENTITY FULL UPDATE: the whole old row, NULLs included.
    assertEquals(c4!.operation, 'UPDATE')
    assertEquals(c4!.fields, ['id', 'name', 'n'])
    assertEquals(c4!.values, [1, 'UNO', 11])
    assertEquals(c4!.old, { kind: 'row', fields: ['id', 'name', 'n'], types: ['integer', 'text', 'integer'], values: [1, 'one', null] })
    assertEquals(r4!.old, { kind: 'row', fields: ['id', 'name', 'n'], values: [1, 'one', null], types: ['integer', 'text', 'integer'] })
    assertEquals(r4!.table_name, `public.${full}`)

    // REPLICA IDENTITY FULL DELETE: the whole old row as fields/values.
    assertEquals(c5!.operation, 'DELETE')
    assertEquals(c5!.fields, ['id', 'name', 'n'])
    assertEquals(c5!.values, [1, 'UNO', 11])
    assertEquals(
      [r5!.fields, r5!.values, r5!.types],
      [
        ['id', 'name', 'n'],
        [1, 'UNO', 11],
        ['integer', 'text', 'integer'],
      ],
    )
    assertEquals(records[4]!.partitionKey, `public.${full}:1`)

    // REPLICA IDENTITY FULL key change: old row, new row.
    assertEquals(c6!.values, [200, 'two', 20])
    assertEquals(c6!.old, { kind: 'row', fields: ['id', 'name', 'n'], types: ['integer', 'text', 'integer'], values: [2, 'two', 20] })
    assertEquals(r6!.operation, 'UPDATE')

    // Six autocommit statements: six transactions, commit LSNs increasing; each change ordinal 0 but
    // a key-changing UPDATE, 1 after its DELETE.
    assertEquals(
      records.map((r) => r.change.ordinal),
      [0, 1, 0, 0, 0, 1],
    )
    const xids = records.map((r) => r.change.transactionId)
    assertEquals(new Set(xids).size, 6, 'six distinct transactions')
    const lsns = records.map((r) => r.change.commitLsn)
    assert(
      lsns.every((l, i) => i === 0 || l > lsns[i - 1]!),
      'commit LSNs increase',
    )
  } finally {
    await cleanUp(sql, stream, slot, publication, [plain, full])
  }
})

test('TRUNCATE: one record per table, with the cascade and restart identity flags', async () => {
  const sql = sqlClient()
  const parent = uniqueName('parent')
  const child = uniqueName('child')
  const other = uniqueName('other')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  let stream: Stream | undefined
  try {
    await sql.unsafe(`
      create table ${parent} (id serial primary key);
      create table ${child} (id serial primary key, parent_id int references ${parent});
      create table ${other} (id int primary key);
      insert into ${parent} default values;
      insert into ${child} (parent_id) values (1);
      insert into ${other} values (7)`)
    stream = await startStream(sql, slot, publication, [parent, child, other])
    const { writer, stop } = stream
    await sql.unsafe(`truncate ${parent}, ${child} restart identity`)
    await sql.unsafe(`insert into ${parent} default values; insert into ${child} (parent_id) values (1)`)
    await sql.unsafe(`truncate ${parent} cascade`)
    await sql.unsafe(`truncate ${other}`)
    await waitFor(() => writer.records.length >= 7, 15_000, '7 records')
    await stop()

    const records = writer.parsed()
    assertEquals(
      records.map((r) => [r.operation, r.table_name]),
      [
        ['TRUNCATE', `public.${parent}`],
        ['TRUNCATE', `public.${child}`],
        ['INSERT', `public.${parent}`],
        ['INSERT', `public.${child}`],
        ['TRUNCATE', `public.${parent}`],
        ['TRUNCATE', `public.${child}`],
        ['TRUNCATE', `public.${other}`],
      ],
    )
    const changes = writer.records.map((r) => r.change)
    // Both tables of one statement: one transaction, ordinals 0 and 1.
    assertEquals(changes[0]!.transactionId, changes[1]!.transactionId)
    assertEquals([changes[0]!.ordinal, changes[1]!.ordinal], [0, 1])
    assertEquals(changes[0]!.truncate, { cascade: false, restartIdentity: true })
    assertEquals(records[0]!.truncate, { cascade: false, restart_identity: true })
    assertEquals(records[1]!.truncate, { cascade: false, restart_identity: true })
    for (const i of [0, 1, 4, 5, 6]) {
      assertEquals([records[i]!.fields, records[i]!.values, records[i]!.types], [[], [], []], `record ${i} has no columns`)
      assert(!('old' in records[i]!), `record ${i} has no old`)
    }
    // restart identity took effect: the sequences started over.
    assertEquals(records[2]!.values, [1])
    assertEquals(records[3]!.values, [1, 1])
    // TRUNCATE … CASCADE names the table reached through the foreign key too.
    assertEquals(changes[4]!.transactionId, changes[5]!.transactionId)
    assertEquals(records[4]!.truncate, { cascade: true, restart_identity: false })
    assertEquals(records[5]!.truncate, { cascade: true, restart_identity: false })
    assertEquals(records[6]!.truncate, { cascade: false, restart_identity: false })
    assertEquals(changes[6]!.ordinal, 0)
    assertEquals(writer.records[6]!.partitionKey, `public.${other}`)
  } finally {
    await cleanUp(sql, stream, slot, publication, [child, parent, other])
  }
})

test('logical messages: transactional ones inside their transaction, non-transactional ones alone', async () => {
  await requireServer(14, 'logical decoding messages')
  const sql = sqlClient()
  const table = uniqueName('msg')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  let stream: Stream | undefined
  const prefix = uniqueName('prefix')
  try {
    await sql.unsafe(`create table ${table} (id int primary key)`)
    // Messages are opt-in, by prefix (other tests' messages reach every slot too).
    stream = await startStream(sql, slot, publication, [table], [prefix, `${prefix}-nt`, `${prefix}-bin`])
    const { writer, stop } = stream
    await sql`select pg_logical_emit_message(true, ${prefix}, 'content')`
    let insertXid = ''
    await sql.begin(async (tx) => {
      await tx.unsafe(`insert into ${table} values (1)`)
      await tx`select pg_logical_emit_message(false, ${prefix + '-nt'}, 'right away ✓')`
      await tx`select pg_logical_emit_message(true, ${prefix + '-bin'}, '\\xff00'::bytea)`
      const [row] = await tx<{ xid: string }[]>`select txid_current()::text as xid`
      insertXid = row!.xid
    })
    await waitFor(() => writer.records.length >= 4, 15_000, '4 records')
    await stop()

    assertEquals(writer.records.length, 4, 'record count')
    const records = writer.parsed()
    const changes = writer.records.map((r) => r.change)
    assertEquals(
      records.map((r) => r.operation),
      ['MESSAGE', 'MESSAGE', 'INSERT', 'MESSAGE'],
    )

    // A transactional message on its own: a transaction of one record.
    assertEquals(records[0]!.message, { prefix, content: 'content', transactional: true })
    assertEquals([records[0]!.table_name, records[0]!.fields, records[0]!.values, records[0]!.types], [null, [], [], []])
    assert(changes[0]!.transactionId > 0, 'transactional message has its xid')
    assertEquals(records[0]!.id, `${records[0]!.lsn}:0`)
    assertEquals(new TextDecoder().decode(changes[0]!.message!.content), 'content')

    // The non-transactional message is decoded at once, before the still-open transaction commits.
    assertEquals(records[1]!.message, { prefix: `${prefix}-nt`, content: 'right away ✓', transactional: false })
    assertEquals(changes[1]!.transactionId, 0)
    assertEquals(records[1]!.id, `${records[1]!.lsn}:0`)
    assert(changes[1]!.commitLsn < changes[2]!.commitLsn, 'non-transactional message LSN precedes the commit')
    assertEquals(writer.records[1]!.partitionKey, `${prefix}-nt`)

    // Insert and transactional message share the transaction, in order; non-UTF-8 content as hex.
    assertEquals(String(changes[2]!.transactionId), insertXid)
    assertEquals(String(changes[3]!.transactionId), insertXid)
    assertEquals([changes[2]!.ordinal, changes[3]!.ordinal], [0, 1])
    assertEquals(records[3]!.id, `${records[2]!.lsn}:1`)
    assertEquals(records[3]!.message, { prefix: `${prefix}-bin`, content_hex: '\\xff00', transactional: true })
    assertEquals(changes[3]!.message!.content, new Uint8Array([0xff, 0x00]))
  } finally {
    await cleanUp(sql, stream, slot, publication, [table])
  }
})

test('unchanged TOAST: left out of fields and named in unchanged_toast_fields, sent when it changes', async () => {
  const sql = sqlClient()
  const table = uniqueName('toast')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  let stream: Stream | undefined
  // ~100 kB of md5 hex: incompressible enough that it is stored out of line.
  const big = `(select string_agg(md5(random()::text), '') from generate_series(1, 3200))`
  try {
    await sql.unsafe(`create table ${table} (id int primary key, note text, big text, n int)`)
    stream = await startStream(sql, slot, publication, [table])
    const { writer, stop } = stream
    await sql.unsafe(`insert into ${table} values (1, 'a', ${big}, 1)`)
    const [first] = await sql<{ big: string }[]>`select big from ${sql(table)} where id = 1`
    const [toast] = await sql<{ name: string }[]>`select reltoastrelid::regclass::text as name from pg_class where oid = ${table}::regclass`
    const [chunks] = await sql.unsafe<{ n: number }[]>(`select count(*)::int as n from ${toast!.name}`)
    assert(chunks!.n > 10, `the big value is TOASTed out of line (${chunks!.n} chunks)`)
    assertEquals(first!.big.length, 102_400)
    await sql.unsafe(`update ${table} set note = 'b' where id = 1`)
    await sql.unsafe(`update ${table} set big = ${big}, n = 2 where id = 1`)
    const [second] = await sql<{ big: string }[]>`select big from ${sql(table)} where id = 1`
    await sql.unsafe(`alter table ${table} replica identity full`)
    await sql.unsafe(`update ${table} set note = 'c' where id = 1`)
    await sql.unsafe(`delete from ${table} where id = 1`)
    await waitFor(() => writer.records.length >= 5, 15_000, '5 records')
    await stop()

    assertEquals(writer.records.length, 5, 'record count')
    const changes = writer.records.map((r) => r.change)
    const records = writer.parsed()
    assert(second!.big !== first!.big && second!.big.length === 102_400, 'a new big value')

    // INSERT carries the whole value.
    assertEquals(changes[0]!.values, [1, 'a', first!.big, 1])
    assertEquals(changes[0]!.unchangedToastFields, undefined)

    // UPDATE of another column: the TOAST column is left out, never null or empty.
    assertEquals(changes[1]!.operation, 'UPDATE')
    assertEquals(changes[1]!.fields, ['id', 'note', 'n'])
    assertEquals(changes[1]!.types, ['integer', 'text', 'integer'])
    assertEquals(changes[1]!.values, [1, 'b', 1])
    assertEquals(changes[1]!.unchangedToastFields, ['big'])
    assertEquals(records[1]!.fields, ['id', 'note', 'n'])
    assertEquals(records[1]!.values, [1, 'b', 1])
    assertEquals(records[1]!.types, ['integer', 'text', 'integer'])
    assertEquals(records[1]!.unchanged_toast_fields, ['big'])
    assertEquals(writer.records[1]!.partitionKey, `public.${table}:1`)

    // UPDATE of the TOAST column itself sends it whole.
    assertEquals(changes[2]!.fields, ['id', 'note', 'big', 'n'])
    assertEquals(changes[2]!.values, [1, 'b', second!.big, 2])
    assertEquals(changes[2]!.unchangedToastFields, undefined)
    assert(!('unchanged_toast_fields' in records[2]!), 'no unchanged_toast_fields when everything was sent')
    assertEquals(records[2]!.values, [1, 'b', second!.big, 2])

    // REPLICA IDENTITY FULL: the old row is sent whole (TOAST included), the new row still omits it.
    assertEquals(changes[3]!.old, {
      kind: 'row',
      fields: ['id', 'note', 'big', 'n'],
      types: ['integer', 'text', 'text', 'integer'],
      values: [1, 'b', second!.big, 2],
    })
    assertEquals(changes[3]!.fields, ['id', 'note', 'n'])
    assertEquals(changes[3]!.values, [1, 'c', 2])
    assertEquals(changes[3]!.unchangedToastFields, ['big'])

    // DELETE under FULL: the whole old row, TOAST value included.
    assertEquals(changes[4]!.operation, 'DELETE')
    assertEquals(changes[4]!.fields, ['id', 'note', 'big', 'n'])
    assertEquals(changes[4]!.values, [1, 'c', second!.big, 2])
    assertEquals(changes[4]!.unchangedToastFields, undefined)
  } finally {
    await cleanUp(sql, stream, slot, publication, [table])
  }
})
