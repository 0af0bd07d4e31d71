/**
 * Partition keys and key changes against the real server: one key for INSERT, UPDATE and DELETE of
 * a row (also under REPLICA IDENTITY USING INDEX), keys taken from the Relation message so a
 * re-send after a primary-key change keeps them, and an UPDATE that changes the key preceded by a
 * DELETE of the old key, in both formats, with ids that a re-send repeats.
 */
import type postgres from 'postgres'
import { test } from '../harness.ts'
import { assert, assertEquals, assertRejects } from '../assert.ts'
import { DebeziumFormat } from '../../src/change/formats/debezium.ts'
import type { RecordFormat } from '../../src/change/formats/format.ts'
import { StreamWriter, type WriterRecord } from '../../src/writers/writer.ts'
import { CollectingWriter, dropSlot, sqlClient, startPipeline, TEST_URL, uniqueName, waitFor } from './support.ts'

interface Names {
  readonly table: string
  readonly slot: string
  /** A second slot made at the same point, to stream the same changes once more. */
  readonly twin: string
  readonly publication: string
}

/** Creates the table (by `ddl`, `%t` standing for its name), its publication and two slots, so every change after this is streamed. */
async function setUp(sql: postgres.Sql, ddl: string): Promise<Names> {
  const names = { table: uniqueName('k'), slot: uniqueName('s'), twin: uniqueName('s'), publication: uniqueName('p') }
  await sql.unsafe(ddl.replaceAll('%t', names.table))
  await sql.unsafe(`create publication ${names.publication} for table ${names.table}`)
  await sql`select pg_create_logical_replication_slot(${names.slot}, 'pgoutput')`
  await sql`select pg_copy_logical_replication_slot(${names.slot}, ${names.twin})`
  return names
}

async function tearDown(sql: postgres.Sql, names: Names, runs: ReturnType<typeof startPipeline>[]): Promise<void> {
  await Promise.all(runs.map((run) => run.stop().catch(() => {})))
  for (const slot of [names.slot, names.twin]) await dropSlot(sql, slot).catch(() => {})
  await sql.unsafe(`drop table if exists ${names.table}; drop publication if exists ${names.publication}`)
  await sql.end()
}

type Runs = ReturnType<typeof startPipeline>[]

function sourceOf(names: Names, slot = names.slot) {
  return { url: TEST_URL, slot, publication: names.publication, tables: [names.table], createSlot: false, createPublication: false }
}

/** Streams what was committed so far (from `slot`) into a new CollectingWriter until `count` records came, then stops. */
async function collect(names: Names, count: number, runs: Runs, options: { slot?: string; format?: RecordFormat } = {}): Promise<CollectingWriter> {
  const writer = new CollectingWriter()
  const run = startPipeline({ postgres: sourceOf(names, options.slot), writer, ...(options.format ? { format: options.format } : {}) })
  runs.push(run)
  await waitFor(() => writer.records.length >= count, 20_000, `${count} records`)
  await new Promise((resolve) => setTimeout(resolve, 200)) // anything extra would arrive now
  await run.stop()
  assertEquals(writer.records.length, count, 'record count')
  return writer
}

/** Remembers every record it is given, and rejects every batch. */
class FailingWriter extends StreamWriter {
  readonly seen: WriterRecord[] = []

  override async publish(records: readonly WriterRecord[]): Promise<void> {
    this.seen.push(...records)
    throw new Error('broker unavailable (injected by the test)')
  }
}

const text = (record: WriterRecord): string => new TextDecoder().decode(record.data)
const summary = (r: WriterRecord): [string, string] => [r.change.operation, r.partitionKey]

test('REPLICA IDENTITY USING INDEX: INSERT, UPDATE and DELETE of a row share one partition key', async () => {
  const sql = sqlClient()
  const names = await setUp(
    sql,
    `
    create table %t (id int primary key, code text not null, note text);
    create unique index %t_code on %t (code);
    alter table %t replica identity using index %t_code`,
  )
  const runs: Runs = []
  try {
    await sql.unsafe(`insert into ${names.table} values (1, 'a', 'x')`)
    await sql.unsafe(`update ${names.table} set note = 'y' where id = 1`)
    await sql.unsafe(`delete from ${names.table} where id = 1`)
    const writer = await collect(names, 3, runs)

    const key = `public.${names.table}:"a"`
    assertEquals(writer.records.map(summary), [
      ['INSERT', key],
      ['UPDATE', key],
      ['DELETE', key],
    ])
    // The DELETE carries the index's column only, not the primary key.
    assertEquals(writer.records[2]!.change.fields, ['code'])
    assertEquals(writer.records[2]!.change.values, ['a'])
  } finally {
    await tearDown(sql, names, runs)
  }
})

test('a re-send after the primary key changed keeps the keys its records had', async () => {
  const sql = sqlClient()
  const names = await setUp(sql, 'create table %t (id int primary key, code text not null, note text)')
  const runs: Runs = []
  try {
    await sql.unsafe(`insert into ${names.table} values (1, 'a', 'x'); update ${names.table} set note = 'y' where id = 1`)
    // First delivery fails: the slot stays behind both changes.
    const writer = new FailingWriter()
    const run1 = startPipeline({ postgres: sourceOf(names), writer })
    runs.push(run1)
    await assertRejects(() => run1.done, 'broker unavailable')
    assertEquals(writer.seen.length, 2, 'first attempt')

    await sql.unsafe(`alter table ${names.table} drop constraint ${names.table}_pkey, add primary key (code)`)
    await sql.unsafe(`insert into ${names.table} values (2, 'b', 'z')`)
    const again = await collect(names, 3, runs)

    const byId = `public.${names.table}:1`
    assertEquals(
      writer.seen.slice(0, 2).map(summary),
      [
        ['INSERT', byId],
        ['UPDATE', byId],
      ],
      'first attempt keyed by the primary key of then',
    )
    assertEquals(again.records.map(summary), [
      ['INSERT', byId],
      ['UPDATE', byId],
      ['INSERT', `public.${names.table}:"b"`],
    ])
    for (let i = 0; i < 2; i++) assertEquals(text(again.records[i]!), text(writer.seen[i]!), `record ${i} re-sent byte-identical`)
  } finally {
    await tearDown(sql, names, runs)
  }
})

test('an UPDATE changing the key: DELETE of the old key, then the UPDATE; a non-key UPDATE alone', async () => {
  const sql = sqlClient()
  const names = await setUp(sql, 'create table %t (id int primary key, note text)')
  const runs: Runs = []
  try {
    await sql.unsafe(`insert into ${names.table} values (1, 'one'), (2, 'two')`)
    await sql.unsafe(`update ${names.table} set id = id + 100 where id = 1`)
    await sql.unsafe(`update ${names.table} set note = 'deux' where id = 2`)
    await sql.unsafe(`update ${names.table} set id = id + 1000`) // two rows, one transaction
    const seed = await collect(names, 9, runs)
    const debezium = await collect(names, 9, runs, { slot: names.twin, format: new DebeziumFormat() })
    const t = `public.${names.table}`

    assertEquals(seed.records.map(summary), [
      ['INSERT', `${t}:1`],
      ['INSERT', `${t}:2`],
      ['DELETE', `${t}:1`],
      ['UPDATE', `${t}:101`],
      ['UPDATE', `${t}:2`],
      ['DELETE', `${t}:101`],
      ['UPDATE', `${t}:1101`],
      ['DELETE', `${t}:2`],
      ['UPDATE', `${t}:1002`],
    ])
    const records = seed.parsed()
    const [remove, update] = [records[2]!, records[3]!]
    assertEquals([remove.operation, remove.fields, remove.values, remove.types], ['DELETE', ['id'], [1], ['integer']])
    assert(!('old' in remove), 'the DELETE has no old')
    assertEquals([update.operation, update.values, update.old], ['UPDATE', [101, 'one'], { kind: 'key', fields: ['id'], values: [1], types: ['integer'] }])
    assertEquals([remove.id, update.id], [`${remove.lsn as string}:0`, `${remove.lsn as string}:1`], 'own ordinals in one transaction')
    assertEquals(update.lsn, remove.lsn)
    assert(!('old' in records[4]!), 'the non-key UPDATE has no old')
    assertEquals(
      records.slice(5).map((r) => r.id),
      [0, 1, 2, 3].map((o) => `${records[5]!.lsn as string}:${o}`),
    )

    // Debezium: the same ids and keys; op "d" with the old key in before, then op "u".
    assertEquals(debezium.records.map(summary), seed.records.map(summary))
    const [d, u] = [debezium.parsed()[2]!, debezium.parsed()[3]!]
    assertEquals([d.op, d.before, d.after], ['d', { id: 1 }, null])
    assertEquals([u.op, u.before, u.after], ['u', { id: 1 }, { id: 101, note: 'one' }])
    assertEquals([(d.source as { id: string }).id, (u.source as { id: string }).id], [remove.id, update.id])
  } finally {
    await tearDown(sql, names, runs)
  }
})

test('key changes under REPLICA IDENTITY FULL and USING INDEX: the DELETE carries what a DELETE would', async () => {
  const sql = sqlClient()
  const names = await setUp(
    sql,
    `
    create table %t (id int primary key, code text not null, note text);
    create unique index %t_code on %t (code);
    alter table %t replica identity full`,
  )
  const runs: Runs = []
  try {
    const t = `public.${names.table}`
    await sql.unsafe(`insert into ${names.table} values (1, 'a', 'x')`)
    await sql.unsafe(`update ${names.table} set id = 2 where id = 1`) // FULL: keyed by the primary key
    await sql.unsafe(`update ${names.table} set code = 'b' where id = 2`) // FULL: not a key change
    await sql.unsafe(`alter table ${names.table} replica identity using index ${names.table}_code`)
    await sql.unsafe(`update ${names.table} set code = 'c' where id = 2`) // USING INDEX: the key changed
    await sql.unsafe(`update ${names.table} set id = 3 where id = 2`) // USING INDEX: the primary key is not the key
    const writer = await collect(names, 7, runs)

    assertEquals(writer.records.map(summary), [
      ['INSERT', `${t}:1`],
      ['DELETE', `${t}:1`],
      ['UPDATE', `${t}:2`],
      ['UPDATE', `${t}:2`],
      ['DELETE', `${t}:"b"`],
      ['UPDATE', `${t}:"c"`],
      ['UPDATE', `${t}:"c"`],
    ])
    const records = writer.parsed()
    // FULL: the DELETE holds the whole old row, as a DELETE under FULL does.
    assertEquals(
      [records[1]!.fields, records[1]!.values],
      [
        ['id', 'code', 'note'],
        [1, 'a', 'x'],
      ],
    )
    assertEquals((records[2]!.old as { kind: string }).kind, 'row')
    // USING INDEX: the DELETE holds the index's column.
    assertEquals([records[4]!.fields, records[4]!.values], [['code'], ['b']])
    assertEquals(records[5]!.old, { kind: 'key', fields: ['code'], values: ['b'], types: ['text'] })
    assert(!('old' in records[6]!), 'a primary-key change under USING INDEX sends no old key')
  } finally {
    await tearDown(sql, names, runs)
  }
})

test('a key-changing UPDATE re-sent after a failed delivery: same ids, byte-identical records', async () => {
  const sql = sqlClient()
  const names = await setUp(sql, `create table %t (id int primary key, note text); insert into %t values (1, 'one'), (2, 'two')`)
  const runs: Runs = []
  try {
    await sql.begin((tx) =>
      tx.unsafe(
        `update ${names.table} set note = 'uno' where id = 1; update ${names.table} set id = 20 where id = 2; insert into ${names.table} values (3, 'three')`,
      ),
    )
    const writer = new FailingWriter()
    const run1 = startPipeline({ postgres: sourceOf(names), writer })
    runs.push(run1)
    await assertRejects(() => run1.done, 'broker unavailable')

    const again = await collect(names, 4, runs)
    const t = `public.${names.table}`
    assertEquals(again.records.map(summary), [
      ['UPDATE', `${t}:1`],
      ['DELETE', `${t}:2`],
      ['UPDATE', `${t}:20`],
      ['INSERT', `${t}:3`],
    ])
    assertEquals(
      again.records.map((r) => r.change.ordinal),
      [0, 1, 2, 3],
    )
    assertEquals(
      writer.seen.map((r) => r.change.id),
      again.records.map((r) => r.change.id),
      'same ids',
    )
    for (let i = 0; i < 4; i++) assertEquals(text(again.records[i]!), text(writer.seen[i]!), `record ${i} re-sent byte-identical`)
  } finally {
    await tearDown(sql, names, runs)
  }
})

test("a key stored out of line: its UPDATE keeps the row's partition key and is no key change (no DELETE)", async () => {
  const sql = sqlClient()
  // EXTERNAL storage keeps the 2,500-byte key uncompressed, so it is stored out of line; the
  // server then logs the old key with every UPDATE of the row, changed or not.
  const names = await setUp(sql, 'create table %t (code text primary key, note text); alter table %t alter column code set storage external')
  const runs: Runs = []
  try {
    const code = 'k'.repeat(2500)
    await sql.unsafe(`insert into ${names.table} values ($1, 'a')`, [code])
    await sql.unsafe(`update ${names.table} set note = 'b'`)
    await sql.unsafe(`delete from ${names.table}`)
    const writer = await collect(names, 3, runs)
    const short = (r: WriterRecord): [string, string] => [r.change.operation, r.partitionKey.replace(JSON.stringify(code), '<code>')]
    const key = `public.${names.table}:<code>`
    assertEquals(writer.records.map(short), [
      ['INSERT', key],
      ['UPDATE', key],
      ['DELETE', key],
    ])
    const update = writer.records[1]!.change
    assertEquals([update.fields, update.unchangedToastFields], [['note'], ['code']], 'the new row leaves the key out as unchanged TOAST')
    assert(update.old?.kind === 'key' && update.old.values[0] === code, 'the server sent the old key')
  } finally {
    await tearDown(sql, names, runs)
  }
})
