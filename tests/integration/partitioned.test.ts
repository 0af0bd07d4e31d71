/**
 * Partitioned tables in `tables`: a publication the tool creates publishes them as their root (one
 * name, one key space), a restart accepts the publication it made (and one listing only the
 * leaves), a row moving between partitions arrives under the root's name, and the replica-identity
 * warning names the partitions PostgreSQL actually checks.
 */
import type postgres from 'postgres'
import { test } from '../harness.ts'
import { assert, assertEquals, assertRejects } from '../assert.ts'
import { Catalog } from '../../src/pg/catalog.ts'
import { CollectingWriter, dropSlot, requireServer, sqlClient, startPipeline, TEST_URL, uniqueName, waitFor, waitForStreaming } from './support.ts'

type Runs = ReturnType<typeof startPipeline>[]

interface Names {
  readonly root: string
  readonly slot: string
  readonly publication: string
}

/** A table partitioned by `part` into `<root>_1` (part 1) and `<root>_2` (part 2), primary key (id, part). */
async function createPartitioned(sql: postgres.Sql): Promise<Names> {
  const names = { root: uniqueName('pt'), slot: uniqueName('s'), publication: uniqueName('p') }
  await sql.unsafe(`
    create table ${names.root} (id int, part int, note text, primary key (id, part)) partition by list (part);
    create table ${names.root}_1 partition of ${names.root} for values in (1);
    create table ${names.root}_2 partition of ${names.root} for values in (2)`)
  return names
}

async function tearDown(sql: postgres.Sql, names: Names, runs: Runs): Promise<void> {
  await Promise.all(runs.map((run) => run.stop().catch(() => {})))
  await dropSlot(sql, names.slot).catch(() => {})
  await sql.unsafe(`drop table if exists ${names.root}; drop publication if exists ${names.publication}`)
  await sql.end()
}

/** Starts a pipeline for `tables: [root]` that may create the slot and the publication. */
async function start(sql: postgres.Sql, names: Names, runs: Runs, tables = [names.root]): Promise<{ writer: CollectingWriter; run: Runs[number] }> {
  const writer = new CollectingWriter()
  const postgres = { url: TEST_URL, slot: names.slot, publication: names.publication, tables, createSlot: true, createPublication: true }
  const run = startPipeline({ postgres, writer })
  runs.push(run)
  await Promise.race([
    waitForStreaming(sql, names.slot),
    run.done.then(() => {
      throw new Error('the pipeline stopped early')
    }),
  ])
  return { writer, run }
}

const summary = (writer: CollectingWriter): [string, string | null | undefined, string][] =>
  writer.records.map((r) => [r.change.operation, r.change.relation?.qualifiedName, r.partitionKey])

test('partitioned table: records name the root, a restart accepts the publication, a row moving partitions stays under the root', async () => {
  await requireServer(13, 'publishing a partitioned table through its root (publish_via_partition_root)')
  const sql = sqlClient()
  const names = await createPartitioned(sql)
  const runs: Runs = []
  try {
    const root = `public.${names.root}`
    const first = await start(sql, names, runs)
    const [pub] = await sql<{ via_root: boolean }[]>`select pubviaroot as via_root from pg_publication where pubname = ${names.publication}`
    assertEquals(pub?.via_root, true, 'the publication publishes via the partition root')
    await sql.unsafe(`insert into ${names.root} values (1, 1, 'a'), (2, 2, 'b')`)
    await waitFor(() => first.writer.records.length >= 2, 15_000, '2 records')
    await first.run.stop()
    assertEquals(summary(first.writer), [
      ['INSERT', root, `${root}:1:1`],
      ['INSERT', root, `${root}:2:2`],
    ])

    // Second start on the same publication and slot: accepted.
    const second = await start(sql, names, runs)
    await sql.unsafe(`update ${names.root} set note = 'c' where id = 1`)
    await sql.unsafe(`update ${names.root} set part = 2 where id = 1`) // moves the row to the other partition
    await waitFor(() => second.writer.records.length >= 3, 15_000, '3 records')
    await new Promise((resolve) => setTimeout(resolve, 200)) // anything extra would arrive now
    await second.run.stop()
    // The server sends the move as a DELETE from the old partition and an INSERT into the new one,
    // both in the root's name: the key (which holds the partition column) changes with the move.
    assertEquals(summary(second.writer), [
      ['UPDATE', root, `${root}:1:1`],
      ['DELETE', root, `${root}:1:1`],
      ['INSERT', root, `${root}:1:2`],
    ])
    const [update, remove, insert] = second.writer.parsed()
    assertEquals(
      [update!.values, remove!.fields, remove!.values, insert!.values],
      [
        [1, 1, 'c'],
        ['id', 'part'],
        [1, 1],
        [1, 2, 'c'],
      ],
    )
    assertEquals(remove!.transaction_id, insert!.transaction_id, 'one transaction')
  } finally {
    await tearDown(sql, names, runs)
  }
})

test('an existing publication listing the leaf partitions publishes their root; one missing a leaf does not', async () => {
  await requireServer(13, 'publishing a partitioned table through its root (publish_via_partition_root)')
  const sql = sqlClient()
  const names = await createPartitioned(sql)
  const runs: Runs = []
  const half = uniqueName('p')
  try {
    // Without publish_via_partition_root, pg_publication_tables lists the leaves only.
    await sql.unsafe(`create publication ${names.publication} for table ${names.root}; create publication ${half} for table ${names.root}_1`)
    const { writer, run } = await start(sql, names, runs)
    await sql.unsafe(`insert into ${names.root} values (1, 1, 'a'), (2, 2, 'b')`)
    await waitFor(() => writer.records.length >= 2, 15_000, '2 records')
    await run.stop()
    assertEquals(
      writer.records.map((r) => r.change.relation?.qualifiedName),
      [`public.${names.root}_1`, `public.${names.root}_2`],
      'records name the leaves',
    )

    const partial = startPipeline({
      postgres: { url: TEST_URL, slot: names.slot, publication: half, tables: [names.root], createSlot: false, createPublication: false },
      writer: new CollectingWriter(),
    })
    runs.push(partial)
    await assertRejects(() => partial.done, `publication "${half}" does not include the configured table public.${names.root}`)
  } finally {
    await sql.unsafe(`drop publication if exists ${half}`)
    await tearDown(sql, names, runs)
  }
})

test('published tables without replica identity: a partitioned root is checked by its leaves', async () => {
  await requireServer(13, 'publishing a partitioned table through its root (publish_via_partition_root)')
  const sql = sqlClient()
  const root = uniqueName('pt')
  const publication = uniqueName('p')
  const catalog = await Catalog.open(TEST_URL, 10_000)
  try {
    // The root has no primary key; one partition has its own, the other none.
    await sql.unsafe(`
      create table ${root} (id int, part int) partition by list (part);
      create table ${root}_1 partition of ${root} for values in (1);
      create table ${root}_2 partition of ${root} for values in (2);
      alter table ${root}_1 add primary key (id)`)
    await sql.unsafe(`create publication ${publication} for table ${root} with (publish_via_partition_root = true)`)
    assertEquals(await catalog.tablesWithoutReplicaIdentity(publication), [`public.${root}_2`])
    // What the warning says: PostgreSQL refuses UPDATE on the partition without one, not on the other.
    await sql.unsafe(`insert into ${root} values (1, 1), (2, 2)`)
    await sql.unsafe(`update ${root} set id = 10 where part = 1`)
    await assertRejects(
      async () => await sql.unsafe(`update ${root} set id = 20 where part = 2`),
      `cannot update table "${root}_2" because it does not have a replica identity`,
    )
    assert(
      await catalog.tablesNotInPublication(publication, [root, `${root}_2`]).then((absent) => absent.length === 0),
      'the root and its partition count as published',
    )
  } finally {
    await catalog.close()
    await sql.unsafe(`drop table if exists ${root}; drop publication if exists ${publication}`)
    await sql.end()
  }
})

test('TRUNCATE of a table published via its root: the root is truncated on the table-name key; a lone partition is not sent', async () => {
  await requireServer(13, 'publishing a partitioned table through its root (publish_via_partition_root)')
  const sql = sqlClient()
  const names = await createPartitioned(sql)
  const runs: Runs = []
  try {
    const root = `public.${names.root}`
    const { writer, run } = await start(sql, names, runs)
    await sql.unsafe(`insert into ${names.root} values (1, 1, 'a'), (2, 2, 'b')`)
    await sql.unsafe(`truncate ${names.root}_2`) // PostgreSQL does not send it: publish_via_partition_root sends roots only
    await sql.unsafe(`insert into ${names.root} values (3, 1, 'c')`)
    await sql.unsafe(`truncate ${names.root}`)
    await waitFor(() => writer.records.length >= 4, 15_000, '4 records')
    await new Promise((resolve) => setTimeout(resolve, 200)) // anything extra would arrive now
    await run.stop()
    assertEquals(summary(writer), [
      ['INSERT', root, `${root}:1:1`],
      ['INSERT', root, `${root}:2:2`],
      ['INSERT', root, `${root}:3:1`],
      ['TRUNCATE', root, root],
    ])
  } finally {
    await tearDown(sql, names, runs)
  }
})
