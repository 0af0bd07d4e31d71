/**
 * One transaction far larger than logical_decoding_work_mem (64kB on the test server) streams
 * through in bounded memory: the pipeline publishes it batch by batch and never holds it whole.
 * Runs in-process with a writer that counts and keeps nothing; RSS is sampled meanwhile.
 */
import process from 'node:process'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { StreamWriter, type WriterRecord } from '../../src/writers/writer.ts'
import { dropSlot, sqlClient, startPipeline, TEST_URL, uniqueName, waitFor } from './support.ts'

const ROWS = 300_000

/** Checks and counts records as they pass; keeps no record. */
class CountingWriter extends StreamWriter {
  records = 0
  bytes = 0
  batches = 0
  readonly transactions = new Set<number>()
  readonly commitLsns = new Set<bigint>()
  nextOrdinal = 0
  nextId = 1
  problem: string | undefined

  override async publish(records: readonly WriterRecord[]): Promise<void> {
    this.batches++
    for (const record of records) {
      const change = record.change
      this.records++
      this.bytes += record.data.length
      this.transactions.add(change.transactionId)
      this.commitLsns.add(change.commitLsn)
      if (change.ordinal !== this.nextOrdinal || !change.id.endsWith(`:${change.ordinal}`)) this.problem ??= `record ${change.id}: expected ordinal ${this.nextOrdinal}`
      if (change.operation !== 'INSERT' || change.values[0] !== this.nextId) this.problem ??= `record ${change.id}: expected INSERT of id ${this.nextId}, got ${change.operation} ${String(change.values[0])}`
      this.nextOrdinal++
      this.nextId++
    }
  }
}

function rss(): number {
  return process.memoryUsage().rss
}

const MB = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`

test(`a ${ROWS}-row transaction streams in bounded memory, as one transaction`, async () => {
  const sql = sqlClient()
  const table = uniqueName('big')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  try {
    const [setting] = await sql<{ setting: string; unit: string }[]>`select setting, unit from pg_settings where name = 'logical_decoding_work_mem'`
    await sql.unsafe(`create table ${table} (id int primary key, payload text)`)
    const writer = new CountingWriter()
    const run = startPipeline({ postgres: { url: TEST_URL, slot, publication, tables: [table], createSlot: true, createPublication: true }, writer })
    await waitFor(async () => (await sql`select 1 from pg_replication_slots where slot_name = ${slot} and active`).length > 0, 15_000, 'slot active')

    // Baseline once the pipeline is streaming and has been through the code paths once.
    await sql.unsafe(`insert into ${table} select g, repeat(md5(g::text), 10) from generate_series(-2000, -1) g`)
    await waitFor(() => writer.records === 2000, 15_000, 'warm-up records')
    writer.records = 0
    writer.bytes = 0
    writer.transactions.clear()
    writer.commitLsns.clear()
    writer.nextOrdinal = 0
    writer.nextId = 1
    writer.problem = undefined
    await new Promise((resolve) => setTimeout(resolve, 300))
    const baseline = rss()
    let peak = baseline
    const sampler = setInterval(() => (peak = Math.max(peak, rss())), 10)

    const started = performance.now()
    await sql.unsafe(`insert into ${table} select g, repeat(md5(g::text), 10) from generate_series(1, ${ROWS}) g`)
    const committedMs = performance.now() - started
    await waitFor(() => writer.records >= ROWS || writer.problem !== undefined, 50_000, `${ROWS} records`)
    const streamedMs = performance.now() - started
    clearInterval(sampler)
    peak = Math.max(peak, rss())
    await run.stop()

    assertEquals(writer.problem, undefined, 'records arrive in order, ids and ordinals consecutive')
    assertEquals(writer.records, ROWS, 'record count')
    assertEquals(writer.transactions.size, 1, 'all rows in one transaction (one xid)')
    assertEquals(writer.commitLsns.size, 1, 'all rows in one transaction (one commit LSN)')
    const growth = peak - baseline
    console.log(
      `     logical_decoding_work_mem=${setting?.setting}${setting?.unit}; ${writer.records} records in ${writer.batches} batches, ${MB(writer.bytes)} of record data; ` +
        `RSS baseline ${MB(baseline)}, peak ${MB(peak)}, growth ${MB(growth)} (bound ${MB(writer.bytes / 3)}); committed in ${Math.round(committedMs)} ms, streamed by ${Math.round(streamedMs)} ms`,
    )
    assert(growth < writer.bytes / 3, `RSS grew by ${MB(growth)}, not below a third of the ${MB(writer.bytes)} streamed: the transaction seems to be held in memory`)
    await dropSlot(sql, slot)
  } finally {
    await sql`select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = ${slot} and not active`
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${publication}`)
    await sql.end()
  }
})
