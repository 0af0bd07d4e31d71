/**
 * The slot is created only where that loses nothing: at a first start. A slot that vanished after
 * streaming (dropped by an administrator, or absent after a failover) stops the tool with the gap
 * named, on a start as on a reconnect; only explicit consent creates a new one.
 */
import type postgres from 'postgres'
import { test } from '../harness.ts'
import { assert, assertEquals, assertRejects } from '../assert.ts'
import { runSupervised } from '../../src/pipeline/supervise.ts'
import { silentLogger } from '../../src/logger.ts'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { FileWriter } from '../../src/writers/file.ts'
import { PgProxy } from './faults/pg-proxy.ts'
import { CollectingWriter, dropSlot, requireServer, sqlClient, startPipeline, TEST_URL, uniqueName, waitFor, waitForStreaming } from './support.ts'

async function setUp(sql: postgres.Sql): Promise<{ table: string; slot: string; publication: string; stateTable: string }> {
  const table = uniqueName('t')
  await sql.unsafe(`create table ${table} (id int primary key, note text)`)
  // Each test records its slots in a table of its own, so tests never see each other's records.
  return { table, slot: uniqueName('s'), publication: uniqueName('p'), stateTable: `public.${uniqueName('state')}` }
}

const makeTempDir = () => mkdtemp(`${tmpdir()}/pgtb-slot-`)

function idsOf(writer: CollectingWriter, table: string): number[] {
  return writer
    .parsed()
    .filter((r) => r.table_name === `public.${table}`)
    .map((r) => (r.values as number[])[0]!)
}

test('lost slot: a slot dropped after streaming is not recreated; the start fails naming the gap; --accept-data-loss creates a new one', async () => {
  const sql = sqlClient()
  const { table, slot, publication, stateTable } = await setUp(sql)
  try {
    const postgres = { url: TEST_URL, slot, publication, tables: [table], createSlot: true, createPublication: true, stateTable }
    const first = new CollectingWriter()
    const run1 = startPipeline({ postgres, writer: first })
    await waitForStreaming(sql, slot)
    await sql.unsafe(`insert into ${table} values (1, 'before')`)
    await waitFor(() => idsOf(first, table).length === 1, 15_000, 'the first row')
    await run1.stop()
    const [marker] = await sql.unsafe<{ confirmed: string }[]>(`select confirmed_lsn::text as confirmed from ${stateTable} where slot_name = $1`, [slot])
    assert(marker, 'the slot was recorded')

    // An administrator drops the slot; a change happens that no slot keeps.
    await dropSlot(sql, slot)
    await sql.unsafe(`insert into ${table} values (2, 'lost')`)
    const error = await assertRejects(() => startPipeline({ postgres, writer: new CollectingWriter() }).done, `replication slot "${slot}" no longer exists`)
    assertEquals((error as { code?: string }).code, 'slot_lost')
    assert(error.message.includes(`last confirmed ${marker.confirmed}`), `the message names the last confirmed position: ${error.message}`)
    assert(error.message.includes('--accept-data-loss'), 'the message names the way out')
    assertEquals((await sql`select 1 from pg_replication_slots where slot_name = ${slot}`).length, 0, 'no slot was created')

    // Explicit consent: a new slot at the current position, streaming again (row 2 stays lost, as consented).
    const third = new CollectingWriter()
    const run3 = startPipeline({ postgres: { ...postgres, acceptDataLoss: true }, writer: third })
    await waitForStreaming(sql, slot)
    await sql.unsafe(`insert into ${table} values (3, 'after')`)
    await waitFor(() => idsOf(third, table).includes(3), 15_000, 'the row after the new slot')
    await run3.stop()
    assertEquals(idsOf(third, table), [3])
  } finally {
    await dropSlot(sql, slot).catch(() => {})
    await sql.end()
  }
})

test('lost slot: a reconnect never creates the slot; the supervisor stops with slot_lost', async () => {
  const sql = sqlClient()
  const { table, slot, publication, stateTable } = await setUp(sql)
  const controller = new AbortController()
  try {
    const writer = new CollectingWriter()
    const postgres = { url: TEST_URL, slot, publication, tables: [table], createSlot: true, createPublication: true, stateTable }
    const run = runSupervised({ postgres, writer, logger: silentLogger, signal: controller.signal })
    run.catch(() => {})
    await waitForStreaming(sql, slot)
    await sql.unsafe(`insert into ${table} values (1, 'x')`)
    await waitFor(() => idsOf(writer, table).length === 1, 15_000, 'the first row')
    // Cut the replication connection and drop the slot before the supervisor reconnects.
    await sql`select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = ${slot}`
    await waitFor(async () => (await sql`select 1 from pg_replication_slots where slot_name = ${slot} and not active`).length === 1, 10_000, 'slot released')
    await sql`select pg_drop_replication_slot(${slot})`
    await assertRejects(() => run, `replication slot "${slot}" no longer exists`)
    assertEquals((await sql`select 1 from pg_replication_slots where slot_name = ${slot}`).length, 0, 'no slot was created')
  } finally {
    controller.abort()
    await dropSlot(sql, slot).catch(() => {})
    await sql.end()
  }
})

test("slot records: a FOR ALL TABLES publication does not deliver the tool's own record table; dropSlotOnExit forgets the record", async () => {
  const sql = sqlClient()
  const { table, slot, publication, stateTable } = await setUp(sql)
  try {
    // FOR ALL TABLES includes the record table, whose rows are written right after the slot exists.
    const postgres = { url: TEST_URL, slot, publication, tables: [], createSlot: true, createPublication: true, stateTable, dropSlotOnExit: true }
    const writer = new CollectingWriter()
    const run = startPipeline({ postgres, writer })
    await waitForStreaming(sql, slot)
    await sql.unsafe(`insert into ${table} values (1, 'x')`)
    await waitFor(() => idsOf(writer, table).length === 1, 15_000, 'the row')
    await run.stop()
    const tables = new Set(writer.parsed().map((r) => r.table_name))
    assert(!tables.has(stateTable), `no record of ${stateTable} was delivered`)
    assertEquals((await sql.unsafe(`select 1 from ${stateTable} where slot_name = $1`, [slot])).length, 0, 'the record went with the slot')
  } finally {
    await dropSlot(sql, slot).catch(() => {})
    await sql.unsafe(`drop publication if exists ${publication}`)
    await sql.end()
  }
})

test('two_phase: a slot created with two_phase is refused at start with a clear message', async () => {
  const sql = sqlClient()
  const { table, slot, publication, stateTable } = await setUp(sql)
  try {
    await requireServer(14, 'two_phase slots')
    await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput', false, true)`
    const postgres = { url: TEST_URL, slot, publication, tables: [table], createSlot: false, createPublication: true, stateTable }
    const error = await assertRejects(() => startPipeline({ postgres, writer: new CollectingWriter() }).done, 'was created with two_phase')
    assertEquals((error as { code?: string }).code, 'slot_two_phase')
  } finally {
    await dropSlot(sql, slot).catch(() => {})
    await sql.end()
  }
})

test('standby: the file writer is not initialised (its torn last line not cut) until the standby holds the lease', async () => {
  const sql = sqlClient()
  const { table, slot, publication, stateTable } = await setUp(sql)
  const dir = await makeTempDir()
  const path = `${dir}/changes.jsonl`
  const lease = await sql.reserve()
  try {
    // What an active writer killed mid-append leaves: the standby must not touch it while that writer may still run.
    const torn = '{"complete":true}\n{"torn'
    await writeFile(path, torn)
    await lease`select pg_advisory_lock(hashtext('pg_to_brokers:' || ${slot}))`
    let waiting = false
    const postgres = { url: TEST_URL, slot, publication, tables: [table], createSlot: true, createPublication: true, stateTable, standby: true }
    const run = startPipeline({ postgres, writer: new FileWriter({ path }), onStandbyWaiting: () => (waiting = true) })
    await waitFor(() => waiting, 15_000, 'the standby waiting')
    await new Promise((resolve) => setTimeout(resolve, 300))
    assertEquals(await readFile(path, 'utf8'), torn, 'the file is untouched while another process holds the lease')
    await lease`select pg_advisory_unlock(hashtext('pg_to_brokers:' || ${slot}))`
    await waitForStreaming(sql, slot)
    assertEquals(await readFile(path, 'utf8'), '{"complete":true}\n', 'once the lease is held, the torn line is cut')
    await run.stop()
  } finally {
    lease.release()
    await dropSlot(sql, slot).catch(() => {})
    await sql.end()
    await rm(dir, { recursive: true, force: true })
  }
})

test('logical messages are delivered only when asked for, and only with an allowed prefix', async () => {
  const sql = sqlClient()
  const { table, slot, publication, stateTable } = await setUp(sql)
  try {
    await requireServer(14, 'logical decoding messages')
    const postgres = { url: TEST_URL, slot, publication, tables: [table], createSlot: true, createPublication: true, stateTable }
    const emit = async (marker: number) => {
      await sql.begin(async (tx) => {
        await tx`select pg_logical_emit_message(true, ${`allowed_${slot}`}, 'yes')`
        await tx`select pg_logical_emit_message(true, ${`other_${slot}`}, 'no')`
        await tx.unsafe(`insert into ${table} values (${marker}, 'marker')`)
      })
    }
    const prefixesOf = (writer: CollectingWriter) =>
      writer
        .parsed()
        .flatMap((r) => (r.operation === 'MESSAGE' ? [(r.message as { prefix: string }).prefix] : []))
        .filter((p) => p.endsWith(slot))

    const plain = new CollectingWriter()
    const run1 = startPipeline({ postgres, writer: plain })
    await waitForStreaming(sql, slot)
    await emit(1)
    await waitFor(() => idsOf(plain, table).includes(1), 15_000, 'the marker row')
    await run1.stop()
    assertEquals(prefixesOf(plain), [], 'no message by default')

    const chosen = new CollectingWriter()
    const run2 = startPipeline({ postgres: { ...postgres, messagePrefixes: [`allowed_${slot}`] }, writer: chosen })
    await waitForStreaming(sql, slot)
    await emit(2)
    await waitFor(() => idsOf(chosen, table).includes(2), 15_000, 'the second marker row')
    await run2.stop()
    assertEquals(prefixesOf(chosen), [`allowed_${slot}`], 'only the allowed prefix')
  } finally {
    await dropSlot(sql, slot).catch(() => {})
    await sql.end()
  }
})

test('a catalog look-up cut mid-stream is retried like a lost replication connection', async () => {
  const sql = sqlClient()
  const { table, slot, publication, stateTable } = await setUp(sql)
  const target = new URL(TEST_URL)
  const proxy = await PgProxy.start(Number(target.port || 5432))
  const controller = new AbortController()
  try {
    target.port = String(proxy.port)
    const writer = new CollectingWriter()
    const warnings: string[] = []
    const logger = { ...silentLogger, warn: (message: string) => void warnings.push(message) }
    const postgres = { url: target.href, slot, publication, tables: [table], createSlot: true, createPublication: true, stateTable }
    const run = runSupervised({ postgres, writer, logger, signal: controller.signal })
    run.catch(() => {})
    await waitForStreaming(sql, slot)
    // The catalog connection dies under its next query: the look-up of a type the stream has not
    // seen yet, for the Relation message that the new column brings.
    proxy.cutAtNextMessage('pg_to_brokers_catalog')
    await sql.unsafe(`alter table ${table} add column extra inet`)
    await sql.unsafe(`insert into ${table} values (1, 'after the cut', '10.0.0.1')`)
    await waitFor(() => idsOf(writer, table).includes(1), 30_000, 'the row after the reconnect')
    assert(
      warnings.some((w) => w.startsWith('connection lost; reconnecting')),
      `the supervisor reconnected: ${warnings.join('; ')}`,
    )
    controller.abort()
    await run
  } finally {
    controller.abort()
    await proxy.close()
    await dropSlot(sql, slot).catch(() => {})
    await sql.end()
  }
})
