/**
 * Bad input to the Kafka writer through the whole pipeline: unreachable bootstrap servers, a
 * missing topic (auto-create is off), a message larger than the broker takes. Each stops the
 * pipeline with a clear message, and the slot is never confirmed past what Kafka did not take.
 */
import type postgres from 'postgres'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { runPipeline } from '../../src/pipeline/pipeline.ts'
import { KafkaWriter, type KafkaWriterOptions } from '../../src/writers/kafka/mod.ts'
import { createTopics, deleteTopics, KAFKA_BROKERS, readTopics, withKafka } from './kafka-support.ts'
import { dropSlot, sqlClient, TEST_URL, uniqueName } from './support.ts'

interface Scenario {
  readonly writer: (table: string) => KafkaWriterOptions
  /** Runs before the pipeline starts, after the slot exists. */
  readonly before?: (sql: postgres.Sql, table: string) => Promise<void>
  /** Runs once the pipeline streams. */
  readonly during?: (sql: postgres.Sql, table: string) => Promise<void>
}

/** Runs the pipeline until it fails; returns its error and the slot's confirmed position before and after. */
async function failingRun(scenario: Scenario): Promise<{ error: Error; confirmedBefore: string; confirmedAfter: string; pending: string }> {
  const sql = sqlClient()
  const [table, slot, publication] = [uniqueName('kf'), uniqueName('s'), uniqueName('p')]
  try {
    await sql.unsafe(`create table ${table} (id int primary key, body text)`)
    await sql.unsafe(`create publication ${publication} for table ${table}`)
    await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput')`
    const confirmedBefore = await confirmed(sql, slot)
    await scenario.before?.(sql, table)
    const pending = String((await sql`select pg_current_wal_insert_lsn()::text as l`)[0]!.l)
    const writer = new KafkaWriter(scenario.writer(table))
    const postgres = { url: TEST_URL, slot, publication, tables: [table], createSlot: false, createPublication: false }
    const run = runPipeline({ postgres, writer, onStreaming: () => void scenario.during?.(sql, table) })
    const error = await run.then(
      () => new Error('the pipeline did not fail'),
      (e: unknown) => e as Error,
    )
    const confirmedAfter = await confirmed(sql, slot)
    await dropSlot(sql, slot)
    return { error, confirmedBefore, confirmedAfter, pending }
  } finally {
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${publication}`)
    await sql.end()
  }
}

async function confirmed(sql: postgres.Sql, slot: string): Promise<string> {
  const [row] = await sql`select coalesce(confirmed_flush_lsn, '0/0')::text as l from pg_replication_slots where slot_name = ${slot}`
  return String(row!.l)
}

test('kafka faults: unreachable bootstrap servers fail init within connectTimeoutMs; nothing is confirmed', () =>
  withKafka(async () => {
    const started = performance.now()
    const result = await failingRun({
      writer: () => ({ brokers: ['127.0.0.1:1'], topic: 'never', connectTimeoutMs: 2_000 }),
      before: (sql, table) => sql.unsafe(`insert into ${table} values (1, 'a')`).then(() => {}),
    })
    assert(/cannot reach the Kafka brokers 127\.0\.0\.1:1 while connecting/.test(result.error.message), `clear message: ${result.error.message}`)
    assert(performance.now() - started < 15_000, 'fails within the connect timeout')
    assertEquals(result.confirmedAfter, result.confirmedBefore, 'slot not confirmed')
  }))

test('kafka faults: a missing topic (fixed, or from the template) stops the pipeline with how to create it; nothing is confirmed', () =>
  withKafka(async () => {
    const fixed = await failingRun({ writer: () => ({ brokers: KAFKA_BROKERS, topic: uniqueName('pgtb_missing') }) })
    assert(/Kafka topic "pgtb_missing_[^"]+" does not exist on .*create it first/.test(fixed.error.message), `clear message: ${fixed.error.message}`)
    const prefix = uniqueName('pgtb_missing')
    let afterInsert = ''
    const templated = await failingRun({
      writer: () => ({ brokers: KAFKA_BROKERS, topicTemplate: `${prefix}.{table}` }),
      during: async (sql, table) => {
        await sql.unsafe(`insert into ${table} values (1, 'a')`)
        afterInsert = String((await sql`select pg_current_wal_insert_lsn()::text as l`)[0]!.l)
      },
    })
    assert(templated.error.message.includes(`Kafka topic "${prefix}.kf_`), `names the topic: ${templated.error.message}`)
    assert(templated.error.message.includes('the writer never creates topics'), templated.error.message)
    // Keepalives may confirm WAL up to the insert's own record while the walsender waits for its
    // commit (the transaction is still re-sent: its commit lies beyond); never the commit's end.
    const check = sqlClient()
    try {
      const [row] = await check`select ${templated.confirmedAfter}::pg_lsn < ${afterInsert}::pg_lsn as held`
      assert(row?.held === true, `the slot (${templated.confirmedAfter}) stays before the end of the undelivered insert's commit (${afterInsert})`)
    } finally {
      await check.end()
    }
  }))

test('kafka faults: a record larger than the broker takes stops the pipeline naming it; earlier transactions stay confirmed, it does not', () =>
  withKafka(async () => {
    const topic = uniqueName('pgtb_large')
    await createTopics([topic], 1)
    try {
      // An earlier small transaction is delivered; the 1.5 MB row (over message.max.bytes, 1 MB) is refused.
      const result = await failingRun({
        writer: () => ({ brokers: KAFKA_BROKERS, topic }),
        during: async (sql, table) => {
          await sql.unsafe(`insert into ${table} values (1, 'small')`)
          await readTopics([topic], (m) => m.length >= 1, { timeoutMs: 10_000 })
          await sql.unsafe(`insert into ${table} select 2, string_agg(md5(i::text), '') from generate_series(1, 48000) i`)
        },
      })
      assert(
        /refused the records as too large \(MESSAGE_TOO_LARGE\): record [0-9A-F]+\/[0-9A-F]+:0 \(\d{7} bytes/.test(result.error.message),
        `clear message: ${result.error.message}`,
      )
      const sql = sqlClient()
      try {
        const refused = /record ([0-9A-F]+\/[0-9A-F]+):0/.exec(result.error.message)![1]!
        const [row] = await sql`select ${result.confirmedAfter}::pg_lsn > ${result.confirmedBefore}::pg_lsn as moved,
            ${result.confirmedAfter}::pg_lsn < ${refused}::pg_lsn as held`
        assert(row?.moved === true, 'the small transaction was confirmed')
        assert(row?.held === true, `the slot (${result.confirmedAfter}) stays before the refused transaction (${refused})`)
      } finally {
        await sql.end()
      }
      const messages = await readTopics([topic], (m) => m.length >= 2, { timeoutMs: 3_000 })
      assertEquals(messages.length, 1, 'only the small record is in Kafka')
    } finally {
      await deleteTopics([topic])
    }
  }))
