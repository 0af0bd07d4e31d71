/**
 * Snapshots end to end against the real server, under concurrent INSERT/UPDATE/DELETE: a consumer
 * that applies every record in order (last write wins by key, deletes remove) ends equal to the
 * table — for the initial snapshot followed by the stream, and for an incremental snapshot taken
 * while the stream flows.
 */
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import type postgres from 'postgres'
import type { WriterRecord } from '../../src/writers/writer.ts'
import { SnapshotProgressStore } from '../../src/snapshot/progress-store.ts'
import { CollectingWriter, dropSlot, requireServer, sqlClient, startPipeline, TEST_URL, uniqueName, waitFor, waitForStreaming } from './support.ts'

const ROWS = 20_000

/** Random updates, deletes and inserts until stopped; returns how many it made. */
function startLoad(sql: postgres.Sql, table: string): { stop: () => Promise<number> } {
  let running = true
  let next = ROWS + 1
  let made = 0
  const loop = (async () => {
    while (running) {
      const id = 1 + Math.floor(Math.random() * ROWS)
      const choice = Math.random()
      if (choice < 0.6) await sql.unsafe(`update ${table} set n = n + 1, v = md5(random()::text) where id = ${id}`)
      else if (choice < 0.8) await sql.unsafe(`delete from ${table} where id = ${id}`)
      else await sql.unsafe(`insert into ${table} values (${next++}, md5(random()::text), 0)`)
      made++
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      return made
    },
  }
}

/** Applies records in order: READ, INSERT and UPDATE set the row, DELETE removes it. */
function apply(records: readonly WriterRecord[]): Map<number, string> {
  const rows = new Map<number, string>()
  for (const { change } of records) {
    if (!change.relation) continue
    const value = (name: string) => change.values[change.fields.indexOf(name)]
    const id = Number(value('id'))
    if (change.operation === 'DELETE') rows.delete(id)
    else if (change.operation !== 'TRUNCATE') rows.set(id, `${String(value('v'))}|${String(value('n'))}`)
  }
  return rows
}

async function tableRows(sql: postgres.Sql, table: string): Promise<Map<number, string>> {
  const rows = await sql.unsafe<{ id: number; v: string; n: number }[]>(`select id, v, n from ${table}`)
  return new Map(rows.map((row) => [row.id, `${row.v}|${row.n}`]))
}

function assertSameRows(actual: Map<number, string>, expected: Map<number, string>): void {
  const missing = [...expected.keys()].filter((id) => !actual.has(id))
  const extra = [...actual.keys()].filter((id) => !expected.has(id))
  const differing = [...expected.keys()].filter((id) => actual.has(id) && actual.get(id) !== expected.get(id))
  assertEquals({ missing: missing.slice(0, 5), extra: extra.slice(0, 5), differing: differing.slice(0, 5) }, { missing: [], extra: [], differing: [] })
  assertEquals(actual.size, expected.size)
}

async function waitConfirmedPastNow(sql: postgres.Sql, slot: string): Promise<void> {
  const [row] = await sql<{ lsn: string }[]>`select pg_current_wal_insert_lsn()::text as lsn`
  const lsn = row!.lsn
  await waitFor(
    async () => (await sql`select 1 from pg_replication_slots where slot_name = ${slot} and confirmed_flush_lsn >= ${lsn}::pg_lsn`).length > 0,
    60_000,
    'slot confirmed past the workload',
  )
}

async function createTable(sql: postgres.Sql, table: string): Promise<void> {
  await sql.unsafe(`create table ${table} (id int primary key, v text, n int not null)`)
  await sql.unsafe(`insert into ${table} select g, md5(g::text), 0 from generate_series(1, ${ROWS}) g`)
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
    await createTable(sql, table)
    const writer = new CollectingWriter()
    const load = startLoad(sqlClient(), table)
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
    assertSameRows(apply(writer.records), await tableRows(sql, table))
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
    await createTable(sql, table)
    const writer = new CollectingWriter()
    const run = startPipeline({
      postgres: { url: TEST_URL, slot, publication, tables: [table], createSlot: true, createPublication: true },
      writer,
      snapshot: { mode: 'never', chunkSize: 500, parallelTables: 1, progress: 'off' },
    })
    await waitForStreaming(sql, slot)
    const load = startLoad(sqlClient(), table)
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
    assertSameRows(apply(writer.records), await tableRows(sql, table))
  } finally {
    await cleanUp(sql, slot, publication, table)
  }
})
