/**
 * Snapshots end to end against the real server, under concurrent INSERT/UPDATE/DELETE: a consumer
 * that applies every record in order (last write wins by key, deletes remove) ends equal to the
 * table — for the initial snapshot followed by the stream, and for an incremental snapshot taken
 * while the stream flows.
 */
import { skip, test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import type postgres from 'postgres'
import { SnapshotProgressStore } from '../../src/snapshot/progress-store.ts'
import { mulberry32, testSeed } from '../seed.ts'
import { assertEqualsTable, createSnapshotTable, Replica, startLoad, waitConfirmedPastNow } from './snapshot-support.ts'
import {
  CollectingWriter,
  dropSlot,
  requireServer,
  serverVersion,
  sqlClient,
  startPipeline,
  TEST_URL,
  uniqueName,
  waitFor,
  waitForStreaming,
} from './support.ts'

const ROWS = 20_000

/** Applies the records in order, checking that no snapshot row contradicts the records before it; then compares with the table. */
async function assertAppliedEqualsTable(sql: postgres.Sql, table: string, writer: CollectingWriter): Promise<void> {
  const replica = new Replica()
  for (const record of writer.parsed()) {
    replica.apply({ id: String(record.id), operation: String(record.operation), table: String(record.table_name), values: record.values as unknown[] })
  }
  assertEquals(replica.conflicts.slice(0, 3), [], 'no snapshot row contradicts the records before it')
  await assertEqualsTable(sql, table, replica.present())
}

async function cleanUp(sql: postgres.Sql, slot: string, publication: string, table: string): Promise<void> {
  await dropSlot(sql, slot).catch(() => {})
  await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${publication}`)
  await sql`delete from pg_to_brokers_snapshots where slot = ${slot}`.catch(() => {})
  await sql.end()
}

test('initial snapshot then stream, under concurrent changes: every row once, applied result equals the table', async () => {
  const sql = sqlClient()
  const table = uniqueName('snap_init')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  try {
    await createSnapshotTable(sql, table, ROWS)
    const writer = new CollectingWriter()
    const load = startLoad(table, ROWS, mulberry32(testSeed()), { hot: { slot, width: 1500 } })
    const run = startPipeline({
      postgres: { url: TEST_URL, slot, publication, tables: [table], createSlot: true, createPublication: true },
      writer,
      snapshot: { mode: 'initial', chunkSize: 1000, parallelTables: 1, progress: 'off' },
    })
    await waitForStreaming(sql, slot, 120_000)
    const made = await load.stop()
    await waitConfirmedPastNow(sql, slot)
    await run.stop()
    const reads = writer.records.filter((r) => r.change.operation === 'READ')
    assert(reads.length > ROWS * 0.5, `the snapshot delivered ${reads.length} rows`)
    assertEquals(new Set(reads.map((r) => r.change.id)).size, reads.length, 'each snapshot row once')
    assert(
      writer.records.some((r) => r.change.operation !== 'READ'),
      `changes made during the snapshot (${made}) were streamed after it`,
    )
    const firstChange = writer.records.findIndex((r) => r.change.operation !== 'READ')
    assert(
      writer.records.slice(firstChange).every((r) => r.change.operation !== 'READ'),
      'the stream starts after the whole initial snapshot',
    )
    await assertAppliedEqualsTable(sql, table, writer)
    const [request] = await sql`select status, rows_done::int as rows from pg_to_brokers_snapshots where slot = ${slot}`
    assertEquals(request?.status, 'done')
  } finally {
    await cleanUp(sql, slot, publication, table)
  }
})

test('incremental snapshot while streaming, under concurrent changes: applied result equals the table', async () => {
  await requireServer(14, 'incremental snapshots (logical messages as watermarks)')
  const sql = sqlClient()
  const table = uniqueName('snap_incr')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  try {
    await createSnapshotTable(sql, table, ROWS)
    const writer = new CollectingWriter()
    const run = startPipeline({
      postgres: { url: TEST_URL, slot, publication, tables: [table], createSlot: true, createPublication: true },
      writer,
      snapshot: { mode: 'never', chunkSize: 500, parallelTables: 1, progress: 'off' },
    })
    await waitForStreaming(sql, slot)
    const load = startLoad(table, ROWS, mulberry32(testSeed()), { hot: { slot, width: 1500 } })
    const store = new SnapshotProgressStore(sql, { schema: 'public', name: 'pg_to_brokers_slots' })
    await store.ensure()
    const [request] = await store.request(slot, [{ table: `public.${table}` }], 'incremental')
    await waitFor(async () => (await store.get(request!.id))?.status === 'done', 120_000, 'the snapshot to finish')
    const made = await load.stop()
    await waitConfirmedPastNow(sql, slot)
    await run.stop()
    const reads = writer.records.filter((r) => r.change.operation === 'READ')
    assert(reads.length > ROWS * 0.5, `the snapshot delivered ${reads.length} rows (${made} concurrent changes)`)
    assertEquals(new Set(reads.map((r) => r.change.id)).size, reads.length, 'each snapshot row once')
    assert(
      writer.records.every((r) => r.change.message === undefined),
      'watermarks are never records',
    )
    await assertAppliedEqualsTable(sql, table, writer)
  } finally {
    await cleanUp(sql, slot, publication, table)
  }
})

test('when_needed: a lost slot is replaced and the tables copied again (two at once), so the change made while it was gone arrives in the copy', async () => {
  const sql = sqlClient()
  const [first, second] = [uniqueName('snap_lost_a'), uniqueName('snap_lost_b')]
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  try {
    for (const table of [first, second]) await createSnapshotTable(sql, table, 3000)
    const postgres = { url: TEST_URL, slot, publication, tables: [first, second], createSlot: true, createPublication: true }
    const snapshot = { mode: 'when_needed' as const, chunkSize: 500, parallelTables: 2, progress: 'off' as const }
    // A first start copies both tables (there was no slot), then streams.
    const writer = new CollectingWriter()
    const copied = (collected: CollectingWriter) => () => collected.records.filter((r) => r.change.operation === 'READ').length >= 6000
    let run = startPipeline({ postgres, writer, snapshot })
    // The slot is active from its creation on, while the tables are read: wait for the copy, then the stream.
    await waitFor(copied(writer), 60_000, 'both tables copied')
    await waitForStreaming(sql, slot)
    assertEquals(writer.records.filter((r) => r.change.operation === 'READ').length, 6000, 'both tables copied once')
    await run.stop()
    // The slot is lost; a change happens that no slot keeps.
    await dropSlot(sql, slot)
    await sql.unsafe(`update ${first} set v = 'changed while the slot was gone' where id = 7`)
    const again = new CollectingWriter()
    run = startPipeline({ postgres, writer: again, snapshot })
    await waitFor(copied(again), 60_000, 'both tables copied again')
    await waitForStreaming(sql, slot)
    await run.stop()
    const reads = again.records.filter((r) => r.change.operation === 'READ')
    assertEquals(reads.length, 6000, 'both tables copied again')
    const row7 = reads.find((r) => r.change.relation?.name === first && r.change.values[0] === 7)
    assertEquals(row7?.change.values[1], 'changed while the slot was gone')
    const requests = await sql`select kind, status from pg_to_brokers_snapshots where slot = ${slot} order by id`
    assertEquals(
      requests.map((r) => `${r.kind}:${r.status}`),
      ['initial:done', 'initial:done', 'initial:done', 'initial:done'],
    )
  } finally {
    await dropSlot(sql, slot).catch(() => {})
    await sql.unsafe(`drop table if exists ${first}, ${second}; drop publication if exists ${publication}`)
    await sql`delete from pg_to_brokers_snapshots where slot = ${slot}`.catch(() => {})
    await sql`delete from pg_to_brokers_slots where slot_name = ${slot}`.catch(() => {})
    await sql.end()
  }
})

test('before PostgreSQL 14 a slot with an unfinished snapshot stops with snapshot_unsupported instead of streaming without its rows', async () => {
  if ((await serverVersion()) >= 140000) skip('runs on PostgreSQL 12 and 13, where nothing can finish a snapshot beside the stream')
  const sql = sqlClient()
  const table = uniqueName('snap_old')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  try {
    await createSnapshotTable(sql, table, 10)
    const postgres = { url: TEST_URL, slot, publication, tables: [table], createSlot: true, createPublication: true }
    const run = startPipeline({ postgres, writer: new CollectingWriter() })
    await waitForStreaming(sql, slot)
    await run.stop()
    const store = new SnapshotProgressStore(sql, { schema: 'public', name: 'pg_to_brokers_slots' })
    await store.ensure()
    await store.request(slot, [{ table: `public.${table}` }], 'initial')
    const error = await startPipeline({ postgres, writer: new CollectingWriter() }).done.then(
      () => undefined,
      (failure: unknown) => failure,
    )
    assertEquals((error as { code?: string } | undefined)?.code, 'snapshot_unsupported')
    assert(String((error as Error).message).includes(`public.${table}`), String(error))
  } finally {
    await cleanUp(sql, slot, publication, table)
  }
})
