/**
 * Streams a real PostgreSQL workload through the pipeline into a 4-shard stream on a local Kinesis
 * server (kinesis-local), reads every shard back from TRIM_HORIZON, and checks it against what was
 * committed: nothing missing, each key's first occurrences in order and in one shard, every
 * duplicate a byte-identical re-send. The same checks run through a fault-injecting proxy
 * (throttling, 503s, partial PutRecords failures, delays, dropped connections).
 */
import { test } from '../harness.ts'
import { assert } from '../assert.ts'
import { mulberry32, testSeed } from '../seed.ts'
import { KinesisWriter, type KinesisWriterOptions } from '../../src/writers/kinesis/writer.ts'
import type { WriterRecord } from '../../src/writers/writer.ts'
import { FaultProxy, type FaultPlan } from './fault-proxy.ts'
import { createStream, deleteStream, readAll, REGION, TEST_CREDENTIALS, testClient } from './kinesis-support.ts'
import { kinesisEndpoint } from './kinesis-server.ts'
import { createWorkloadTables, dropWorkloadTables, runWorkload, verifyStream } from './kinesis-workload.ts'
import { currentRuntime } from './process.ts'
import { dropSlot, sqlClient, startPipeline, TEST_URL, uniqueName, waitFor } from './support.ts'

const CHANGES = 3000

/** Counts the records of every publish that resolved. */
class CountingKinesisWriter extends KinesisWriter {
  published = 0
  override async publish(records: readonly WriterRecord[]): Promise<void> {
    await super.publish(records)
    this.published += records.length
  }
}

const FAULTS: Omit<FaultPlan, 'seed'> = {
  throttle: 0.05,
  unavailable: 0.05,
  partial: 0.25,
  partialRecord: 0.3,
  delay: 0.05,
  delayMs: [20, 400],
  dropBefore: 0.03,
  dropAfter: 0.03,
  maxFaults: 200,
}

async function streamWorkload(label: string, options: Partial<KinesisWriterOptions>, faults?: Omit<FaultPlan, 'seed'>): Promise<void> {
  const sql = sqlClient()
  const prefix = uniqueName('kin')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  const stream = uniqueName('stream')
  const seed = testSeed()
  const client = await testClient()
  await createStream(client, stream, 4)
  const endpoint = await kinesisEndpoint()
  const proxy = faults ? await FaultProxy.start(endpoint, { ...faults, seed }) : undefined
  const tables = await createWorkloadTables(sql, prefix, publication)
  try {
    await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput')`
    const writer = new CountingKinesisWriter({
      region: REGION,
      streamName: stream,
      endpoint: proxy?.endpoint ?? endpoint,
      credentials: TEST_CREDENTIALS,
      retryBaseDelayMs: 5,
      retryMaxDelayMs: 100,
      maxAttempts: 50,
      requestTimeoutMs: 250,
      ...options,
    })
    const run = startPipeline({
      postgres: { url: TEST_URL, slot, publication, tables: [], createSlot: false, createPublication: false },
      writer,
      batch: { maxRecords: 300, maxLatencyMs: 20 },
    })
    let failure: unknown
    run.done.catch((error: unknown) => (failure = error))
    const started = performance.now()
    const committed = await runWorkload(sql, tables, mulberry32(seed), CHANGES)
    await waitFor(
      () => {
        if (failure) throw failure
        return writer.published >= CHANGES
      },
      40_000,
      `${CHANGES} records published`,
    )
    await run.stop()
    const elapsed = performance.now() - started
    const verdict = verifyStream(await readAll(client, stream), committed)
    assert(verdict.unique === CHANGES, `${verdict.unique} distinct records, expected ${CHANGES}`)
    const injected = proxy ? `; proxy: ${JSON.stringify(proxy.counts)}` : ''
    console.log(
      `     ${currentRuntime()} ${label}, seed ${seed}: ${verdict.records} records (${verdict.duplicates} duplicates) over ${verdict.shards} ` +
        `shards in ${Math.round(elapsed)} ms${injected}`,
    )
  } finally {
    await proxy?.close()
    await dropSlot(sql, slot).catch(() => {})
    await dropWorkloadTables(sql, tables, publication)
    await sql.end()
    await deleteStream(client, stream)
  }
}

test('kinesis: a PostgreSQL workload reaches a 4-shard stream complete, in order per row key', async () => {
  await streamWorkload('plain, row keys', {})
})

test('kinesis: with KPL aggregation the workload arrives complete and in order (read back through de-aggregation)', async () => {
  await streamWorkload('aggregated, row keys', { aggregation: true })
})

test('kinesis: throttling, 503s, partial PutRecords failures, delays and dropped connections lose nothing and keep per-key order', async () => {
  await streamWorkload('plain, row keys, faults', { maxConcurrentRequests: 6 }, FAULTS)
})

test('kinesis: aggregation under the same faults loses nothing and keeps per-key order', async () => {
  await streamWorkload('aggregated, row keys, faults', { aggregation: true }, FAULTS)
})

test('kinesis: table keys with ExplicitHashKey and aggregation, under faults, keep each table in order', async () => {
  await streamWorkload('aggregated, table keys + ExplicitHashKey, faults', { aggregation: true, partitionKey: 'table', explicitHashKey: true }, FAULTS)
})

test('kinesis: one constant key keeps the total commit order', async () => {
  await streamWorkload('aggregated, constant key', { aggregation: true, partitionKey: 'constant', constantKey: 'all' })
})
