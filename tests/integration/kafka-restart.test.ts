/**
 * The broker stops (by its PID, through scripts/kafka.sh) while changes stream, and starts again:
 * the writer waits and retries, the slot is never confirmed past what Kafka has, nothing is lost,
 * order per key holds, and any duplicate is a re-send with the same id and bytes.
 */
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { KafkaWriter } from '../../src/writers/kafka/mod.ts'
import { brokerPid, createTopics, deleteTopics, KAFKA_BROKERS, kafkaScript, position, readTopics, withKafka } from './kafka-support.ts'
import { sleep } from './process.ts'
import { dropSlot, sqlClient, startPipeline, TEST_URL, uniqueName, waitFor, waitForStreaming } from './support.ts'

const KEYS = 50

test('kafka restart: the broker stops mid-stream and comes back; nothing is confirmed early, nothing lost, order per key kept', () =>
  withKafka(async () => {
    const sql = sqlClient()
    const [table, slot, publication] = [uniqueName('kb'), uniqueName('s'), uniqueName('p')]
    const topic = uniqueName('pgtb_restart')
    let committed = 0
    let writing = true
    try {
      await sql.unsafe(`create table ${table} (id int primary key, v int not null)`)
      await sql.unsafe(`insert into ${table} select i, 0 from generate_series(1, ${KEYS}) i`)
      await createTopics([topic], 3)
      const writer = new KafkaWriter({ brokers: KAFKA_BROKERS, topic, deliveryTimeoutMs: 120_000 })
      const run = startPipeline({
        postgres: { url: TEST_URL, slot, publication, tables: [table], createSlot: true, createPublication: true },
        writer,
        batch: { maxRecords: 100 },
      })
      await waitForStreaming(sql, slot)
      // A steady workload: each transaction bumps v of 5 keys.
      const workload = (async () => {
        for (let round = 1; writing; round++) {
          await sql.unsafe(`update ${table} set v = v + 1 where id % 10 = ${round % 10}`)
          committed += KEYS / 10
          await sleep(10)
        }
      })()
      await sleep(1_000)
      const pid = brokerPid()
      await kafkaScript('stop')
      // While the broker is down: commit more, and watch the slot.
      const [{ l: downAt }] = (await sql`select pg_current_wal_insert_lsn()::text as l`) as unknown as [{ l: string }]
      await sleep(3_000)
      const [held] =
        await sql`select confirmed_flush_lsn < ${downAt}::pg_lsn as held, confirmed_flush_lsn::text as at from pg_replication_slots where slot_name = ${slot}`
      assert(held?.held === true, `slot (${held?.at}) not confirmed past ${downAt}, written after broker ${pid} stopped`)
      await kafkaScript('start')
      assert(brokerPid() !== pid, 'a new broker process')
      await sleep(1_000)
      writing = false
      await workload
      const expected = committed
      const messages = await readTopics([topic], (m) => new Set(m.map((x) => x.headers.id)).size >= expected, { timeoutMs: 60_000 })
      await run.stop()
      const ids = new Map<string, string>()
      for (const m of messages) {
        const earlier = ids.get(m.headers.id!)
        assert(earlier === undefined || earlier === m.value, `re-sent ${m.headers.id} is byte-identical`)
        ids.set(m.headers.id!, m.value)
      }
      assertEquals(ids.size, expected, 'every committed change arrived')
      checkVersions(messages.map((m) => ({ key: m.key, id: m.headers.id!, offset: m.offset, v: (JSON.parse(m.value) as { values: number[] }).values[1]! })))
      console.log(`     ${expected} changes, ${messages.length - ids.size} duplicates, broker ${pid} stopped for ~3 s`)
      await dropSlot(sql, slot)
    } finally {
      writing = false
      await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${publication}`)
      await sql.end()
      await deleteTopics([topic])
    }
  }))

/** Per key, in offset order, first occurrences carry v = 1, 2, 3, … without gaps, and ids only grow. */
function checkVersions(messages: { key: string; id: string; offset: bigint; v: number }[]): void {
  const byKey = new Map<string, typeof messages>()
  for (const m of messages) byKey.set(m.key, [...(byKey.get(m.key) ?? []), m])
  for (const [key, list] of byKey) {
    list.sort((a, b) => (a.offset < b.offset ? -1 : 1))
    const seen = new Set<string>()
    let last = 0
    let lastPosition = -1n
    for (const m of list) {
      if (seen.has(m.id)) continue
      seen.add(m.id)
      assertEquals(m.v, last + 1, `key ${key}: v after ${last}`)
      assert(position(m.id) > lastPosition, `key ${key}: ${m.id} in commit order`)
      last = m.v
      lastPosition = position(m.id)
    }
  }
}
