/**
 * Snapshot reading against the real server: a row read by readChunk makes the same seed record
 * (fields, values, types) and the same partition key as the stream's INSERT of that row, for
 * awkward values and keys, partitioned tables and replica identities; chunks page through keys
 * that need quoting; a table the publication does not publish, a keyless table read in chunks,
 * and a bad or injected WHERE are refused.
 */
import type postgres from 'postgres'
import { test } from '../harness.ts'
import { assert, assertEquals, assertRejects } from '../assert.ts'
import { SeedFormat } from '../../src/change/formats/seed.ts'
import type { Change } from '../../src/change/change.ts'
import { describeSnapshotTable, type SnapshotTable } from '../../src/snapshot/table.ts'
import { readChunk } from '../../src/snapshot/chunk-reader.ts'
import { quoteLiteral } from '../../src/pg/identifiers.ts'
import type { SnapshotChange, SnapshotPosition } from '../../src/snapshot/snapshot-change.ts'
import { CollectingWriter, dropSlot, requireServer, sqlClient, startPipeline, TEST_URL, uniqueName, waitFor } from './support.ts'

interface Names {
  readonly table: string
  readonly slot: string
  readonly publication: string
}

/** Creates the tables (`%t` in `ddl` stands for the table's name), a publication of `%t` and a slot. */
async function setUp(sql: postgres.Sql, ddl: string, publicationOptions = ''): Promise<Names> {
  const names = { table: uniqueName('snap'), slot: uniqueName('s'), publication: uniqueName('p') }
  await sql.unsafe(ddl.replaceAll('%t', names.table))
  await sql.unsafe(`create publication ${names.publication} for table ${names.table} ${publicationOptions}`)
  await sql`select pg_create_logical_replication_slot(${names.slot}, 'pgoutput')`
  return names
}

async function tearDown(sql: postgres.Sql, names: Names): Promise<void> {
  await dropSlot(sql, names.slot).catch(() => {})
  await sql.unsafe(`drop table if exists ${names.table} cascade; drop publication if exists ${names.publication}`)
  await sql.end()
}

/** The stream's changes for what was committed so far, `count` of them. */
async function streamed(names: Names, count: number): Promise<Change[]> {
  const writer = new CollectingWriter()
  const postgres = { url: TEST_URL, slot: names.slot, publication: names.publication, tables: [], createSlot: false, createPublication: false }
  const run = startPipeline({ postgres, writer })
  try {
    await waitFor(() => writer.records.length >= count, 30_000, `${count} streamed records`)
  } finally {
    await run.stop()
  }
  return writer.records.map((r) => r.change)
}

/** Every row of the table, `chunkSize` rows per readChunk, in one REPEATABLE READ transaction. */
async function snapshotted(sql: postgres.Sql, table: SnapshotTable, chunkSize: number): Promise<{ changes: SnapshotChange[]; chunks: number }> {
  const position: SnapshotPosition = { requestId: 7, commitLsn: 0x1234n }
  return (await sql.begin('isolation level repeatable read read only', async (tx) => {
    const changes: SnapshotChange[] = []
    let after: string[] | undefined
    let chunks = 0
    for (;;) {
      const chunk = await readChunk(tx, table, after, chunkSize, position)
      chunks++
      changes.push(...chunk.changes)
      assertEquals(chunk.rows, chunk.changes.length)
      if (chunk.rows < chunkSize) return { changes, chunks }
      after = chunk.lastKey
    }
  })) as { changes: SnapshotChange[]; chunks: number }
}

const writer = new CollectingWriter()

/** What must agree between a snapshot row and the stream's INSERT of it: the partition key and the record's row. */
function essence(change: Change, format: SeedFormat): string {
  const record = JSON.parse(new TextDecoder().decode(format.encode(change))) as Record<string, unknown>
  return JSON.stringify([writer.assignChangeToPartitionKey(change), record.fields, record.values, record.types, record.table_name])
}

/** Streams the rows inserted so far, snapshots the table, and checks both give the same records and keys. */
async function compare(sql: postgres.Sql, names: Names, rows: number, chunkSize: number, name = names.table): Promise<SnapshotChange[]> {
  const stream = await streamed(names, rows)
  const table = await describeSnapshotTable(sql, name, names.publication, undefined)
  const { changes } = await snapshotted(sql, table, chunkSize)
  const relation = stream[0]!.relation!
  assertEquals(
    [
      table.relation.fields,
      table.relation.types,
      table.relation.keyIndexes,
      table.relation.columns.map((c) => c.isReplicaIdentity),
      table.relation.qualifiedName,
    ],
    [relation.fields, relation.types, relation.keyIndexes, relation.columns.map((c) => c.isReplicaIdentity), relation.qualifiedName],
    'relation',
  )
  const format = new SeedFormat()
  assertEquals(changes.map((c) => essence(c, format)).sort(), stream.map((c) => essence(c, format)).sort(), 'records')
  // The decoded values agree too (the text path of the formats, and writers that read values).
  assertEquals(
    changes.map((c) => JSON.stringify([writer.assignChangeToPartitionKey(c), c.values], (_, v) => (typeof v === 'bigint' ? String(v) : v))).sort(),
    stream.map((c) => JSON.stringify([writer.assignChangeToPartitionKey(c), c.values], (_, v) => (typeof v === 'bigint' ? String(v) : v))).sort(),
    'values',
  )
  return changes
}

const AWKWARD = ['tab\there', 'new\nline\r\n', 'back\\slash \\N \\t', 'quote\'s "double"', 'unicode é€😀 ñ', '', ' ']

test('snapshot rows match the stream: awkward text, NULLs, arrays, bytea, jsonb, numeric, timestamptz, domains, generated and dropped columns', async () => {
  const sql = sqlClient()
  const names = await setUp(
    sql,
    `create domain %t_d as text check (value <> 'x');
     create table %t (id int primary key, gone text, t text, n numeric(20,5), ts timestamptz, j jsonb, b bytea, arr text[], iarr int[],
       f float8, ok boolean, d %t_d, g int generated always as (id * 2) stored, i interval, day date, u uuid, big bigint);
     alter table %t drop column gone`,
  )
  try {
    for (const [i, text] of AWKWARD.entries()) {
      const t = quoteLiteral(text)
      await sql.unsafe(`insert into ${names.table} (id, t, n, ts, j, b, arr, iarr, f, ok, d, i, day, u, big) values (${i + 1}, ${t}, '${i}12345678901234.5', '2024-02-29 23:59:59.123456+05:30',
        jsonb_build_object('text', ${t}, 'n', jsonb_build_array(1, 2.5, null), 'nested', jsonb_build_object(E'k\\t"', ${t})), convert_to(${t}, 'UTF8'),
        array[${t}, null, 'a,b', '{x}', 'NULL'], array[1, -2, 3], ${i} / 3.0, ${i % 2 === 0}, coalesce(nullif(${t}, ''), 'y'), '1 day 02:03:04.5',
        '2000-01-01', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1${i}', ${9007199254740993n + BigInt(i)})`)
    }
    await sql.unsafe(`insert into ${names.table} (id) values (100)`)
    const changes = await compare(sql, names, AWKWARD.length + 1, 3)
    assertEquals(changes[0]!.operation, 'READ')
    assertEquals(changes.map((c) => c.id).slice(0, 2), ['snapshot:7:["1"]', 'snapshot:7:["2"]'])
    assertEquals([changes[4]!.ordinal, changes[4]!.commitLsn, changes[4]!.transactionId, changes[4]!.commitTime], [1, 0x1234n, 0, null])
  } finally {
    await tearDown(sql, names)
    await sql.unsafe(`drop domain if exists ${names.table}_d`).catch(() => {})
  }
})

test('snapshot chunks page through a composite text key holding quotes, backslashes, tabs and unicode, one row per chunk', async () => {
  const sql = sqlClient()
  const names = await setUp(sql, 'create table %t (a text, b int, v text, primary key (a, b))')
  try {
    for (const [i, text] of AWKWARD.entries()) await sql`insert into ${sql(names.table)} values (${text}, ${i}, ${text}), (${text}, ${i + 100}, null)`
    const changes = await compare(sql, names, AWKWARD.length * 2, 1)
    assertEquals(changes.length, AWKWARD.length * 2)
    assert(
      changes.some((c) => c.id === `snapshot:7:${JSON.stringify(['quote\'s "double"', '3'])}`),
      'the id names the key',
    )
  } finally {
    await tearDown(sql, names)
  }
})

test('snapshot of a partitioned table published via its root reads every partition as the root, like the stream', async () => {
  const sql = sqlClient()
  const names = await setUp(
    sql,
    `create table %t (id int, region text, note text, primary key (region, id)) partition by list (region);
     create table %t_eu partition of %t for values in ('eu');
     create table %t_us (note text, id int not null, region text not null);
     alter table %t attach partition %t_us for values in ('us')`,
    'with (publish_via_partition_root = true)',
  )
  try {
    await sql.unsafe(`insert into ${names.table} select g, case when g % 2 = 0 then 'eu' else 'us' end, 'n' || g from generate_series(1, 9) g`)
    const changes = await compare(sql, names, 9, 4)
    assertEquals(changes.length, 9)
    // A partition is not what the publication shows: the error names the root to ask for instead.
    await assertRejects(() => describeSnapshotTable(sql, `${names.table}_us`, names.publication, undefined), `"public"."${names.table}"`)
  } finally {
    await tearDown(sql, names)
  }
})

test('snapshot follows the publication: its column list and row filter (PostgreSQL 15)', async () => {
  await requireServer(15, 'publication column lists and row filters')
  const sql = sqlClient()
  const names = await setUp(sql, 'create table %t (id int primary key, secret text, v text)')
  try {
    await sql.unsafe(`alter publication ${names.publication} set table ${names.table} (id, v) where (id % 2 = 0)`)
    await sql.unsafe(`insert into ${names.table} select g, 's' || g, 'v' || g from generate_series(1, 8) g`)
    const changes = await compare(sql, names, 4, 3)
    assertEquals(
      changes.map((c) => c.values),
      [
        [2, 'v2'],
        [4, 'v4'],
        [6, 'v6'],
        [8, 'v8'],
      ],
    )
  } finally {
    await tearDown(sql, names)
  }
})

test('snapshot keys follow the replica identity: USING INDEX flags the index, FULL keeps the primary key', async () => {
  const sql = sqlClient()
  const names = await setUp(
    sql,
    `create table %t (id int primary key, code text not null, note text);
     create unique index %t_code on %t (code);
     alter table %t replica identity using index %t_code`,
  )
  try {
    await sql.unsafe(`insert into ${names.table} values (1, 'b''x', 'one'), (2, 'a', 'two'), (3, 'c', null)`)
    const table = await describeSnapshotTable(sql, names.table, names.publication, undefined)
    assertEquals(
      table.keyColumns.map((k) => k.name),
      ['code'],
    )
    await compare(sql, names, 3, 2)
    await sql.unsafe(`alter table ${names.table} replica identity full; insert into ${names.table} values (4, 'd', 'four')`)
    const full = await describeSnapshotTable(sql, names.table, names.publication, undefined)
    assertEquals([full.relation.keyIndexes, full.keyColumns.map((k) => k.name)], [[0], ['id']])
  } finally {
    await tearDown(sql, names)
  }
})

test('a keyless table is read whole (and matches the stream) but refused in chunks', async () => {
  const sql = sqlClient()
  const names = await setUp(sql, 'create table %t (a text, b int)')
  try {
    await sql.unsafe(`insert into ${names.table} values ('x', 1), ('x', 1), (null, 2)`)
    const changes = await compare(sql, names, 3, Number.POSITIVE_INFINITY)
    assertEquals(changes.length, 3)
    const table = await describeSnapshotTable(sql, names.table, names.publication, undefined)
    const position = { requestId: 1, commitLsn: 0n }
    await assertRejects(() => readChunk(sql, table, undefined, 100, position), 'no primary key')
  } finally {
    await tearDown(sql, names)
  }
})

test('snapshot refuses a missing table, a table the publication does not publish, and a bad WHERE; a WHERE selects rows', async () => {
  const sql = sqlClient()
  const names = await setUp(sql, `create table %t (id int primary key, v text); create table %t_other (id int primary key)`)
  try {
    await sql.unsafe(`insert into ${names.table} select g, 'v' || g from generate_series(1, 10) g`)
    const code = async (fn: () => Promise<unknown>): Promise<string> => {
      const error = await fn().then(
        () => undefined,
        (e: unknown) => e as { code?: string; message?: string },
      )
      return `${error?.code}`
    }
    assertEquals(await code(() => describeSnapshotTable(sql, `${names.table}_nope`, names.publication, undefined)), 'snapshot_table_missing')
    assertEquals(await code(() => describeSnapshotTable(sql, `${names.table}_other`, names.publication, undefined)), 'snapshot_table_not_published')
    assertEquals(await code(() => describeSnapshotTable(sql, names.table, names.publication, 'nope = 1')), 'snapshot_bad_where')
    await assertRejects(() => describeSnapshotTable(sql, names.table, names.publication, 'nope = 1'), 'column "nope" does not exist')

    // Parentheses and quotes inside strings, quoted names, dollar quotes and comments are not the condition's own.
    const where = `id > 3 and v <> 'v5' and v <> E'\\')' and "v" <> $q$)$q$ /* ) /* nested ( */ */ and v <> ')(' -- )`
    const table = await describeSnapshotTable(sql, names.table, names.publication, where)
    const { changes } = await snapshotted(sql, table, 2)
    assertEquals(
      changes.map((c) => c.values[0]),
      [4, 6, 7, 8, 9, 10],
    )
  } finally {
    await tearDown(sql, names)
    await sql.unsafe(`drop table if exists ${names.table}_other`).catch(() => {})
  }
})

test('a WHERE that tries to run a second statement is refused and runs nothing', async () => {
  const sql = sqlClient()
  const names = await setUp(sql, `create table %t (id int primary key); create table %t_victim (id int)`)
  try {
    const attempts = [
      `1=1); drop table ${names.table}_victim; --`,
      `true) TO STDOUT; drop table ${names.table}_victim; COPY (select 1 where (true`,
      `true)) union (select 1`,
      // Plans fine as SELECT 1 FROM t WHERE (true) UNION (SELECT …): only the parenthesis check refuses it.
      `true) union (select id from ${names.table}_victim where (true`,
      `true) -- `,
      `true; drop table ${names.table}_victim`,
    ]
    for (const where of attempts) {
      const error = await describeSnapshotTable(sql, names.table, names.publication, where).then(
        (t) => t,
        (e: unknown) => e as { code?: string },
      )
      assertEquals((error as { code?: string }).code, 'snapshot_bad_where', where)
    }
    const [row] = await sql`select to_regclass(${`${names.table}_victim`}) is not null as present`
    assertEquals(row!.present, true)
  } finally {
    await tearDown(sql, names)
    await sql.unsafe(`drop table if exists ${names.table}_victim`).catch(() => {})
  }
})
