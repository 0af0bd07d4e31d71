/**
 * An initial snapshot through a real Kafka topic (scripts/kafka.sh): the CLI copies a table while
 * INSERT/UPDATE/DELETE run, then streams; a consumer reading the topic and applying each
 * partition's messages in order (per partition key: READ, INSERT and UPDATE set the row, DELETE
 * removes it) ends equal to the table. The snapshot rows share the stream's partition key, so a
 * row's READ and its later changes land in one partition, in order.
 *
 * Size: 1,000,000 rows on Node; 200,000 on Deno and Bun, which run the same code paths, to keep the
 * three-runtime suite's time and memory reasonable (on 2 shared cores the 1M run took 40-70 s, about
 * a third copying into Kafka and half reading it back, and the test process peaked near 1 GB RSS).
 */
import { Consumer, stringDeserializers } from '@platformatic/kafka'
import type postgres from 'postgres'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { mulberry32, testSeed } from '../seed.ts'
import { createTopics, deleteTopics, KAFKA_BROKERS, withKafka } from './kafka-support.ts'
import { currentRuntime, describeExit, FixtureProcess, REPO_ROOT } from './process.ts'
import { assertEqualsTable, createSnapshotTable, Replica, snapshotsOf, startLoad, waitConfirmedPastNow, type Load } from './snapshot-support.ts'
import { dropSlot, requireServer, sqlClient, TEST_URL, uniqueName, waitFor } from './support.ts'

const CLI = `${REPO_ROOT}src/cli/entry.ts`
const ROWS = currentRuntime() === 'node' ? 1_000_000 : 200_000
const PARTITIONS = 3

/** What the consumer saw. */
interface Consumed {
  readonly messages: number
  readonly reads: number
  /** Messages whose record id came before (a snapshot row: its row read before). */
  readonly duplicates: number
}

/**
 * Reads `topic` from the start up to the end offsets it has now, applying each message to `replica`
 * in partition order, and checks that a row's messages all come through one partition.
 */
async function consumeAll(topic: string, replica: Replica): Promise<Consumed> {
  const consumer = new Consumer({
    clientId: 'pgtb-test-snapshot-consumer',
    groupId: uniqueName('pgtb_test_snapshot'),
    bootstrapBrokers: [...KAFKA_BROKERS],
    deserializers: stringDeserializers,
    maxWaitTime: 200,
  })
  // Per row id (the load's inserts stay far below ROWS new ids): its partition + 1, and whether it was read.
  const partitionOf = new Uint8Array(2 * ROWS)
  const read = new Uint8Array(2 * ROWS)
  const streamIds = new Set<string>()
  let [messages, reads, duplicates] = [0, 0, 0]
  let open = new Set<number>()
  let stream: Awaited<ReturnType<typeof consumer.consume>> | undefined
  try {
    const ends = (await consumer.listOffsets({ topics: [topic] })).get(topic)!
    open = new Set(ends.flatMap((end, partition) => (end > 0n ? [partition] : [])))
    assert(open.size > 0, `topic ${topic} is empty`)
    stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false })
    for await (const m of stream) {
      const record = JSON.parse(String(m.value)) as { id: string; operation: string; table_name: string; values: unknown[] }
      const row = Number(record.values[0])
      assert(row < partitionOf.length, `row id ${row} beyond the ids this test expects`)
      const earlier = partitionOf[row]! - 1
      assert(earlier < 0 || earlier === m.partition, `row ${row}: ${record.operation} ${record.id} in partition ${m.partition}, earlier ones in ${earlier}`)
      partitionOf[row] = m.partition + 1
      replica.apply({ id: record.id, operation: record.operation, table: record.table_name, values: record.values })
      messages++
      if (record.operation === 'READ') {
        reads++
        duplicates += read[row]!
        read[row] = 1
      } else {
        if (streamIds.has(record.id)) duplicates++
        streamIds.add(record.id)
      }
      if (m.offset + 1n >= ends[m.partition]!) open.delete(m.partition)
      if (open.size === 0) break
    }
  } finally {
    await stream?.close().catch(() => {})
    await new Promise<void>((resolve) => consumer.close(true, () => resolve()))
  }
  assertEquals(open.size, 0, 'every partition read to its end')
  return { messages, reads, duplicates }
}

async function cleanUp(sql: postgres.Sql, run: FixtureProcess | undefined, names: { table: string; slot: string; topic: string }): Promise<void> {
  if (run && !run.exitStatus) await run.kill()
  await dropSlot(sql, names.slot).catch(() => {})
  await sql.unsafe(`drop table if exists ${names.table}; drop publication if exists ${names.slot}`)
  await sql`delete from pg_to_brokers_snapshots where slot = ${names.slot}`.catch(() => {})
  await sql.end()
  await deleteTopics([names.topic])
}

test(
  `snapshot kafka: an initial snapshot of ${ROWS.toLocaleString('en-US')} rows under INSERT/UPDATE/DELETE, read back from the topic and applied per partition in order, equals the table`,
  () =>
    withKafka(async () => {
      await requireServer(14, 'the snapshot progress beside the stream')
      const sql = sqlClient()
      const names = { table: uniqueName('snap_kafka'), slot: uniqueName('s'), topic: uniqueName('pgtb_snapshot') }
      let run: FixtureProcess | undefined
      let load: Load | undefined
      const times: string[] = []
      let at = performance.now()
      const lap = (what: string) => (times.push(`${what} ${((performance.now() - at) / 1000).toFixed(1)} s`), (at = performance.now()))
      try {
        await createSnapshotTable(sql, names.table, ROWS)
        await createTopics([names.topic], PARTITIONS)
        lap('table')
        const writes = startLoad(names.table, ROWS, mulberry32(testSeed()))
        load = writes
        const args = ['run', '--slot', names.slot, '--publication', names.slot, '--tables', names.table, '--snapshot-mode', 'initial']
        args.push('--snapshot-progress', 'off', '--kafka-brokers', KAFKA_BROKERS.join(','), '--kafka-topic', names.topic)
        const cli = new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: TEST_URL }, args)
        run = cli
        const alive = () => {
          if (cli.exitStatus) throw new Error(`the CLI exited (${describeExit(cli.exitStatus)}): ${cli.stderr.trim()}`)
          if (writes.error) throw writes.error
        }
        await waitFor(async () => (alive(), (await snapshotsOf(sql, names.slot))[0]?.status === 'done'), 600_000, 'the initial snapshot to finish')
        await waitFor(() => (alive(), / info streaming /.test(cli.stderr)), 60_000, 'the stream after the snapshot')
        lap('snapshot')
        const transactions = await writes.stop()
        await waitConfirmedPastNow(sql, names.slot, 300_000, alive)
        cli.signal('SIGTERM')
        assertEquals((await cli.waitForExit(60_000)).code, 0, `the CLI stops cleanly: ${cli.stderr.trim()}`)
        lap('stream')
        const replica = new Replica()
        const consumed = await consumeAll(names.topic, replica)
        lap('consume')
        assert(replica.conflicts.length === 0, `snapshot rows contradict earlier messages: ${replica.conflicts.slice(0, 3).join('; ')}`)
        assertEquals(consumed.duplicates, 0, 'no message twice (nothing was killed)')
        assert(consumed.reads >= ROWS * 0.9, `the snapshot delivered ${consumed.reads} rows of about ${ROWS}`)
        const seen = replica.rows
        const gaps = [...Array(ROWS).keys()].map((i) => i + 1).filter((id) => !writes.touched.has(id) && !seen.has(id))
        assertEquals(gaps.length, 0, `rows never delivered, e.g. ${gaps.slice(0, 5).join(', ')}`)
        const rows = await assertEqualsTable(sql, names.table, replica.present())
        lap('compare')
        console.log(
          `     ${currentRuntime()}: ${ROWS} rows, ${transactions} concurrent transactions; ${consumed.messages} messages ` +
            `(${consumed.reads} snapshot rows), ${rows} rows at the end; ${times.join(', ')}`,
        )
      } finally {
        await load?.stop().catch(() => {})
        await cleanUp(sql, run, names)
      }
    }),
  { timeoutMs: 1_200_000 },
)
