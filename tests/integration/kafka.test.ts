/**
 * Real PostgreSQL → KafkaWriter → real Kafka (scripts/kafka.sh), read back with the same client:
 * everything committed arrives, keys and headers are right, order per key holds, topics are routed.
 */
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { KafkaWriter } from '../../src/writers/kafka/mod.ts'
import { createTopics, deleteTopics, KAFKA_BROKERS, KAFKA_SASL_BROKERS, position, readTopics, withKafka, type ReadMessage } from './kafka-support.ts'
import { dropSlot, sqlClient, startPipeline, TEST_URL, uniqueName, waitFor } from './support.ts'

const slotActive = (sql: ReturnType<typeof sqlClient>, slot: string) => async () =>
  (await sql`select 1 from pg_replication_slots s join pg_stat_replication r on r.pid = s.active_pid where s.slot_name = ${slot}`).length > 0

test('kafka: every committed change arrives once, keyed by primary key, with id/lsn/transaction headers, in order per key', () =>
  withKafka(async () => {
    const sql = sqlClient()
    const [table, slot, publication] = [uniqueName('kt'), uniqueName('s'), uniqueName('p')]
    const topic = uniqueName('pgtb_kafka')
    try {
      await sql.unsafe(`create table ${table} (id int primary key, v int not null, note text)`)
      await createTopics([topic], 3)
      const writer = new KafkaWriter({ brokers: KAFKA_BROKERS, topic })
      const run = startPipeline({
        postgres: { url: TEST_URL, slot, publication, tables: [table], createSlot: true, createPublication: true },
        writer,
        batch: { maxRecords: 50 },
      })
      await waitFor(slotActive(sql, slot), 15_000, 'slot active')
      // 40 keys, each inserted then updated 4 times across 20 transactions, then 10 deleted.
      await sql.unsafe(`insert into ${table} select i, 0, 'n' || i from generate_series(1, 40) i`)
      for (let round = 1; round <= 4; round++) {
        for (let t = 0; t < 5; t++) await sql.unsafe(`update ${table} set v = ${round} where id % 5 = ${t}`)
      }
      await sql.unsafe(`delete from ${table} where id <= 10`)
      const expected = 40 + 160 + 10
      const messages = await readTopics([topic], (m) => m.length >= expected, { timeoutMs: 30_000 })
      await run.stop()
      assertEquals(messages.length, expected, 'messages read back')
      assertEquals(new Set(messages.map((m) => m.headers.id)).size, expected, 'distinct record ids')
      for (const m of messages) checkMessage(m, table)
      checkOrderPerKey(messages)
      const partitions = new Set(messages.map((m) => m.partition))
      assert(partitions.size > 1, `keys spread over partitions (got ${[...partitions].join(',')})`)
      const last = messages.reduce((max, m) => (m.headers.lsn! > max ? m.headers.lsn! : max), '')
      const lsns = messages.map((m) => m.headers.lsn!)
      const [row] = await sql`select confirmed_flush_lsn >= max(l)::pg_lsn as past from pg_replication_slots, unnest(${lsns}::text[]) l where slot_name =
          ${slot} group by confirmed_flush_lsn`
      assert(row?.past === true, `slot confirmed past the last delivered commit ${last}`)
      await dropSlot(sql, slot)
    } finally {
      await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${publication}`)
      await sql.end()
      await deleteTopics([topic])
    }
  }))

test('kafka: a topic template routes each table to its own topic, with illegal characters mapped to "_"', () =>
  withKafka(async () => {
    const sql = sqlClient()
    const [plain, slot, publication] = [uniqueName('kr'), uniqueName('s'), uniqueName('p')]
    const odd = `Odd Name ${plain}`
    const prefix = uniqueName('pgtb_route')
    const topics = [`${prefix}.public.${plain}`, `${prefix}.public.Odd_Name_${plain}`]
    try {
      await sql.unsafe(`create table ${plain} (id int primary key); create table "${odd}" (id int primary key, "Label" text)`)
      await createTopics(topics, 1)
      const writer = new KafkaWriter({ brokers: KAFKA_BROKERS, topicTemplate: `${prefix}.{schema}.{table}`, compression: 'gzip' })
      const run = startPipeline({
        postgres: { url: TEST_URL, slot, publication, tables: [plain, `"${odd}"`], createSlot: true, createPublication: true },
        writer,
      })
      await waitFor(slotActive(sql, slot), 15_000, 'slot active')
      await sql.unsafe(`insert into ${plain} values (1), (2); insert into "${odd}" values (7, 'x')`)
      const messages = await readTopics(topics, (m) => m.length >= 3, { timeoutMs: 20_000 })
      await run.stop()
      assertEquals(
        messages.filter((m) => m.topic === topics[0]).map((m) => m.headers.table_name),
        [`public.${plain}`, `public.${plain}`],
      )
      const oddMessages = messages.filter((m) => m.topic === topics[1])
      assertEquals(
        oddMessages.map((m) => m.headers.table_name),
        [`public.${odd}`],
      )
      assertEquals(oddMessages[0]!.key, `public.${odd}:7`, 'key is the table and primary key')
      assertEquals((JSON.parse(oddMessages[0]!.value) as { values: unknown[] }).values, [7, 'x'])
      await dropSlot(sql, slot)
    } finally {
      await sql.unsafe(`drop table if exists ${plain}; drop table if exists "${odd}"; drop publication if exists ${publication}`)
      await sql.end()
      await deleteTopics(topics)
    }
  }))

test('kafka: SASL PLAIN and SCRAM-SHA-256 log in; a wrong password fails clearly without showing it', () =>
  withKafka(async () => {
    const topic = uniqueName('pgtb_sasl')
    await createTopics([topic], 1)
    try {
      for (const mechanism of ['plain', 'scram-sha-256'] as const) {
        const writer = new KafkaWriter({ brokers: KAFKA_SASL_BROKERS, topic, sasl: { mechanism, username: 'pgtb', password: 'pgtb-secret' } })
        await writer.init()
        await writer.close()
      }
      const wrong = new KafkaWriter({
        brokers: KAFKA_SASL_BROKERS,
        topic,
        sasl: { mechanism: 'scram-sha-256', username: 'pgtb', password: 'not-the-password' },
      })
      const error = await wrong.init().then(
        () => undefined,
        (e: unknown) => e as Error,
      )
      await wrong.close()
      assert(error !== undefined, 'a wrong password fails init')
      assert(/refused the SASL credentials for user "pgtb"/.test(error.message), `clear message: ${error.message}`)
      assert(!error.message.includes('not-the-password'), 'the password is not in the message')
    } finally {
      await deleteTopics([topic])
    }
  }))

/** Headers name the record; the key is the partition key; the value is the record itself. */
function checkMessage(m: ReadMessage, table: string): void {
  const record = JSON.parse(m.value) as { id: string; lsn: string; transaction_id: number; operation: string; table_name: string; values: unknown[] }
  assertEquals(m.headers.id, record.id, 'id header')
  assertEquals(m.headers.lsn, record.lsn, 'lsn header')
  assertEquals(m.headers.transaction_id, String(record.transaction_id), 'transaction_id header')
  assertEquals(m.headers.operation, record.operation, 'operation header')
  assertEquals(m.headers.table_name, `public.${table}`, 'table_name header')
  assertEquals(m.key, `public.${table}:${record.values[0]}`, 'key = table + primary key')
}

/** Per key, offsets follow commit order: LSN (then ordinal) never goes back. */
function checkOrderPerKey(messages: readonly ReadMessage[]): void {
  const byKey = new Map<string, ReadMessage[]>()
  for (const m of messages) byKey.set(m.key, [...(byKey.get(m.key) ?? []), m])
  for (const [key, list] of byKey) {
    list.sort((a, b) => (a.offset < b.offset ? -1 : 1))
    assertEquals(new Set(list.map((m) => m.partition)).size, 1, `key ${key} stays on one partition`)
    const positions = list.map((m) => position(m.headers.id!))
    for (let i = 1; i < positions.length; i++) assert(positions[i]! > positions[i - 1]!, `key ${key}: ${list[i]!.headers.id} after ${list[i - 1]!.headers.id}`)
  }
}
