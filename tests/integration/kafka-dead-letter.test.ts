/**
 * Records Kafka can never take, and tombstones, through the whole pipeline against the real broker:
 * a record refused as too large goes to the dead-letter file (0600) and the stream goes on, or, by
 * default, stops the run naming exactly that record; with tombstones, each DELETE is followed by
 * its key with a null value.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type postgres from 'postgres'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { runPipeline } from '../../src/pipeline/pipeline.ts'
import { KafkaWriter, type KafkaWriterOptions } from '../../src/writers/kafka/mod.ts'
import { createTopics, deleteTopics, KAFKA_BROKERS, readTopics, withKafka, type ReadMessage } from './kafka-support.ts'
import { dropSlot, sqlClient, TEST_URL, uniqueName, waitFor, waitForStreaming } from './support.ts'

/** A row of about 1.5 MB: over the broker's default message.max.bytes (1 MB). */
const BIG_ROW = (id: number) => `select ${id}, string_agg(md5(i::text), '') from generate_series(1, 48000) i`

interface Stream {
  readonly sql: postgres.Sql
  readonly table: string
  readonly slot: string
  readonly run: Promise<void>
  readonly stop: () => Promise<void>
}

/** Streams a fresh table to Kafka with `options`; `body` runs once the pipeline streams; cleans up after. */
async function withStream(options: Omit<KafkaWriterOptions, 'brokers'>, body: (stream: Stream) => Promise<void>): Promise<void> {
  const sql = sqlClient()
  const [table, slot, publication] = [uniqueName('kd'), uniqueName('s'), uniqueName('p')]
  const controller = new AbortController()
  try {
    await sql.unsafe(`create table ${table} (id int primary key, body text)`)
    const writer = new KafkaWriter({ brokers: KAFKA_BROKERS, ...options })
    const postgres = { url: TEST_URL, slot, publication, tables: [table], createSlot: true, createPublication: true }
    const run = runPipeline({ postgres, writer, signal: controller.signal })
    run.catch(() => {})
    await waitForStreaming(sql, slot, 30_000)
    await body({ sql, table, slot, run, stop: async () => (controller.abort(), await run) })
    await dropSlot(sql, slot)
  } finally {
    controller.abort()
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${publication}`)
    await sql.end()
  }
}

const ids = (messages: readonly ReadMessage[]) => messages.map((m) => (JSON.parse(m.value) as { values: unknown[] }).values[0])

test('kafka dead letters: a record refused as too large goes to the dead-letter file (0600); the rows around it reach Kafka and the slot moves on', () =>
  withKafka(async () => {
    const topic = uniqueName('pgtb_dlq')
    const directory = mkdtempSync(join(tmpdir(), 'pgtb-dlq-'))
    const deadLetterPath = join(directory, 'too-big.jsonl')
    await createTopics([topic], 1)
    try {
      // maxRequestBytes well above the broker's limit: the big row shares its request with row 1,
      // so the writer must find the one record the broker refuses.
      await withStream({ topic, oversizedRecord: 'dead-letter', deadLetterPath, maxRequestBytes: 8_000_000 }, async ({ sql, table, slot, stop }) => {
        await sql.begin(async (tx) => {
          await tx.unsafe(`insert into ${table} values (1, 'small')`)
          await tx.unsafe(`insert into ${table} ${BIG_ROW(2)}`)
        })
        await sql.unsafe(`insert into ${table} values (3, 'later')`)
        const messages = await readTopics([topic], (m) => m.length >= 2, { timeoutMs: 30_000 })
        assertEquals(ids(messages), [1, 3], 'the rows around the refused one, in order')
        const later = messages[1]!.headers.lsn!
        await waitFor(
          async () => (await sql`select confirmed_flush_lsn >= ${later}::pg_lsn as past from pg_replication_slots where slot_name = ${slot}`)[0]?.past === true,
          30_000,
          `slot confirmed past ${later}`,
        )
        await stop()
      })
      const letters = readFileSync(deadLetterPath, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>)
      assertEquals(letters.length, 1, 'one dead letter')
      const letter = letters[0]!
      assertEquals([letter.operation, letter.topic, (JSON.parse(letter.data as string) as { values: unknown[] }).values[0]], ['INSERT', topic, 2])
      assert(/^[0-9A-F]+\/[0-9A-F]+:1$/.test(letter.id as string), `the record id: ${String(letter.id)}`)
      assert((letter.bytes as number) > 1_500_000 && String(letter.reason).includes('too large'), JSON.stringify({ ...letter, data: '…' }))
      assert(String(letter.table).startsWith('public.kd_') && String(letter.partition_key).includes(':2'), JSON.stringify({ ...letter, data: '…' }))
      assertEquals((statSync(deadLetterPath).mode & 0o777).toString(8), '600', 'dead-letter file mode')
    } finally {
      rmSync(directory, { recursive: true, force: true })
      await deleteTopics([topic])
    }
  }))

test('kafka dead letters: by default a record refused as too large stops the run naming it (id, size, topic), even inside a larger request', () =>
  withKafka(async () => {
    const topic = uniqueName('pgtb_big')
    await createTopics([topic], 1)
    try {
      await withStream({ topic, maxRequestBytes: 8_000_000 }, async ({ sql, table, slot, run }) => {
        let refusedEnd = ''
        await sql.begin(async (tx) => {
          await tx.unsafe(`insert into ${table} values (1, 'small')`)
          await tx.unsafe(`insert into ${table} ${BIG_ROW(2)}`)
        })
        refusedEnd = String((await sql`select pg_current_wal_insert_lsn()::text as l`)[0]!.l)
        const error = await run.then(
          () => new Error('the pipeline did not fail'),
          (e: unknown) => e as Error,
        )
        const named = new RegExp(
          `refused the records as too large \\((MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE)\\): record [0-9A-F]+/[0-9A-F]+:1 \\(\\d{7} bytes, ` +
            `topic "${topic}"\\), sent alone`,
        )
        assert(named.test(error.message), `names the record: ${error.message}`)
        assert(error.message.includes('oversizedRecord'), `says how to set such records aside: ${error.message}`)
        const [row] = await sql`select confirmed_flush_lsn < ${refusedEnd}::pg_lsn as held from pg_replication_slots where slot_name = ${slot}`
        assert(row?.held === true, 'the refused transaction is not confirmed')
      })
    } finally {
      await deleteTopics([topic])
    }
  }))

test('kafka tombstones: each DELETE (also the one before a key-changing UPDATE) is followed by its key with a null value', () =>
  withKafka(async () => {
    const topic = uniqueName('pgtb_tomb')
    await createTopics([topic], 1)
    try {
      await withStream({ topic, tombstones: true }, async ({ sql, table, stop }) => {
        await sql.unsafe(`insert into ${table} values (1, 'a'), (2, 'b'), (3, 'c')`)
        await sql.unsafe(`delete from ${table} where id = 1`)
        await sql.unsafe(`update ${table} set body = 'b2' where id = 2`)
        await sql.unsafe(`update ${table} set id = 30 where id = 3`)
        // 3 inserts, DELETE 1 + tombstone, UPDATE 2, DELETE 3 + tombstone + the new row 30.
        const messages = await readTopics([topic], (m) => m.length >= 9, { timeoutMs: 30_000 })
        await stop()
        const shown = messages.map((m) => (m.nullValue ? `tombstone ${m.key}` : `${m.headers.operation} ${m.key}`))
        const key = (id: number) => `public.${table}:${id}`
        const deletes = messages.filter((m) => m.headers.operation === 'DELETE')
        assertEquals(
          deletes.map((m) => m.key),
          [key(1), key(3)],
          `DELETEs: ${shown.join(', ')}`,
        )
        for (const deleted of deletes) {
          const next = messages.find((m) => m.offset === deleted.offset + 1n)
          assert(next?.nullValue === true && next.key === deleted.key, `a tombstone right after ${deleted.key}: ${shown.join(', ')}`)
          assertEquals(next.headers.id, undefined, 'a tombstone carries no record id')
          assertEquals(next.headers.lsn, deleted.headers.lsn, 'a tombstone says where it came from')
        }
        assertEquals(messages.filter((m) => m.nullValue).length, 2, `only DELETEs get tombstones: ${shown.join(', ')}`)
      })
    } finally {
      await deleteTopics([topic])
    }
  }))
