/**
 * @module Shared setup for the tests of streamed in-progress transactions: a private spool
 * directory, a logger that keeps what the pipeline reports, and the oracle — two slots at the same
 * point (pg_copy_logical_replication_slot), one streamed with streaming on while the workload runs,
 * the other afterwards with streaming off; their records must match byte for byte.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type postgres from 'postgres'
import type { Logger, LogFields } from '../../src/logger.ts'
import type { WriterRecord } from '../../src/writers/writer.ts'
import { assert, assertEquals } from '../assert.ts'
import { CollectingWriter, dropSlot, startPipeline, TEST_URL, uniqueName, waitFor, waitForStreaming } from './support.ts'

/** A payload of ~330 bytes per row: 200 rows pass the test server's logical_decoding_work_mem (64kB). */
export const PAYLOAD_SQL = `repeat(md5(g::text), 10)`

/** A fresh directory to give the pipeline as its spool parent; `files()` lists what is left in it. */
export function spoolParent(): { path: string; files: () => string[]; bytes: () => number; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'pgtb-spool-test-'))
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [join(dir, e.name) + '/', ...walk(join(dir, e.name))] : [join(dir, e.name)]))
  const files = () => {
    try {
      return walk(path)
    } catch {
      return []
    }
  }
  const bytes = () =>
    files()
      .filter((f) => !f.endsWith('/'))
      .reduce((sum, f) => sum + (statSafe(f) ?? 0), 0)
  return { path, files, bytes, remove: () => rmSync(path, { recursive: true, force: true }) }
}

function statSafe(path: string): number | undefined {
  try {
    return statSync(path).size
  } catch {
    return undefined
  }
}

/** Spool files (not directories) under `parent`. */
export function spoolFilesIn(files: string[]): string[] {
  return files.filter((f) => f.endsWith('.spool'))
}

/** A logger that keeps every event, for assertions on what the pipeline did. */
export function recordingLogger(): Logger & { events: { level: string; message: string; fields: LogFields | undefined }[] } {
  const events: { level: string; message: string; fields: LogFields | undefined }[] = []
  const keep = (level: string) => (message: string, fields?: LogFields) => void events.push({ level, message, fields })
  return { events, error: keep('error'), warn: keep('warn'), info: keep('info'), debug: keep('debug') }
}

/** The slot's statistics of streamed and spilled transactions (PostgreSQL 14+), once the server reported them. */
export async function slotStats(sql: postgres.Sql, slot: string): Promise<{ streamTxns: number; spillTxns: number }> {
  const [row] = await sql<{ stream_txns: string; spill_txns: string }[]>`
    select stream_txns::text, spill_txns::text from pg_stat_replication_slots where slot_name = ${slot}`
  return { streamTxns: Number(row?.stream_txns ?? 0), spillTxns: Number(row?.spill_txns ?? 0) }
}

/**
 * Waits until `slot` confirmed everything committed so far (nudging the server so that keepalives
 * move on). `check` runs at each poll and may throw to give up early (e.g. the consumer died).
 */
export async function waitForConfirmed(sql: postgres.Sql, slot: string, what: string, timeoutMs = 60_000, check?: () => void): Promise<void> {
  // synchronous_commit=off on the test server: the insert position, not pg_current_wal_lsn(), is past the commits.
  const [{ target }] = (await sql`select pg_current_wal_insert_lsn()::text as target`) as unknown as [{ target: string }]
  let nudged = Date.now()
  await waitFor(
    async () => {
      check?.()
      if (Date.now() - nudged > 1000) (nudged = Date.now()), await sql`select txid_current()`
      const [row] = await sql`select confirmed_flush_lsn >= ${target}::pg_lsn as done from pg_replication_slots where slot_name = ${slot}`
      return row?.done === true
    },
    timeoutMs,
    what,
  )
}

/** Fails with the first differing record, not with two arrays of thousands of records. */
export function assertSameRecords(actual: readonly WriterRecord[], expected: readonly WriterRecord[], what: string): void {
  const text = (record: WriterRecord) => new TextDecoder().decode(record.data)
  for (let i = 0; i < Math.min(actual.length, expected.length); i++) {
    if (text(actual[i]!) !== text(expected[i]!) || actual[i]!.partitionKey !== expected[i]!.partitionKey) {
      throw new Error(
        `${what}: record ${i} differs:\n       streamed     ${text(actual[i]!).slice(0, 300)}\n       not streamed ${text(expected[i]!).slice(0, 300)}`,
      )
    }
  }
  assertEquals(actual.length, expected.length, `${what}: record count`)
}

/** Checks that records come in whole transactions: one block per commit LSN, ordinals 0..n-1, commit LSNs rising. */
export function assertWholeTransactions(records: readonly WriterRecord[]): Map<string, WriterRecord[]> {
  const blocks = new Map<string, WriterRecord[]>()
  let previous: bigint | undefined
  for (const record of records) {
    const c = record.change
    const key = String(c.commitLsn)
    let block = blocks.get(key)
    if (!block) {
      assert(previous === undefined || c.commitLsn > previous, `commit LSN ${c.commitLsn} after ${previous}: out of commit order or split`)
      previous = c.commitLsn
      blocks.set(key, (block = []))
    }
    assertEquals(c.ordinal, block.length, `ordinal in the transaction committed at ${c.commitLsn}`)
    block.push(record)
  }
  return blocks
}

export interface Comparison {
  /** Records of the run with streaming on (live, while the workload ran), without logical messages. */
  readonly streamed: WriterRecord[]
  /** Records of the run on the slot copy with streaming off (after the workload), without logical messages. */
  readonly unstreamed: WriterRecord[]
  readonly logger: ReturnType<typeof recordingLogger>
  readonly spool: ReturnType<typeof spoolParent>
  readonly stats: { streamed: { streamTxns: number; spillTxns: number }; unstreamed: { streamTxns: number; spillTxns: number } }
}

/**
 * Creates the publication and a slot plus its copy, streams the slot with streaming on while
 * `workload` runs (it gets the spool directory, to watch), waits until everything is confirmed,
 * then streams the copy with streaming off. Asserts that the records match byte for byte and that
 * no spool file is left; the caller asserts the rest.
 */
export async function compareWithUnstreamed(
  sql: postgres.Sql,
  tables: readonly string[],
  workload: (spool: ReturnType<typeof spoolParent>) => Promise<void>,
): Promise<Comparison> {
  const publication = uniqueName('p')
  const slot = uniqueName('s')
  const copy = `${slot}_copy`
  const spool = spoolParent()
  const logger = recordingLogger()
  const streamed = new CollectingWriter()
  const unstreamed = new CollectingWriter()
  let run: { done: Promise<void>; stop: () => Promise<void> } | undefined
  try {
    await sql.unsafe(`create publication ${publication} for table ${tables.join(', ')}`)
    await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput')`
    await sql`select pg_copy_logical_replication_slot(${slot}, ${copy})`
    const postgresOptions = { url: TEST_URL, publication, tables: [], createSlot: false, createPublication: false, spoolDirectory: spool.path }
    run = startPipeline({ postgres: { ...postgresOptions, slot, streaming: 'on' }, writer: streamed, logger })
    await waitForStreaming(sql, slot)
    await workload(spool)
    await untilFailed(waitForConfirmed(sql, slot, 'the streaming run to confirm the workload'), run.done)
    await run.stop()
    run = undefined
    assertEquals(spoolFilesIn(spool.files()), [], 'spool files left after a clean stop')
    assertEquals(spool.files(), [], 'spool directories left after a clean stop')

    run = startPipeline({ postgres: { ...postgresOptions, slot: copy, streaming: 'off' }, writer: unstreamed })
    await untilFailed(waitForConfirmed(sql, copy, 'the non-streaming run to confirm the workload'), run.done)
    await run.stop()
    run = undefined
    // Logical messages of other sessions reach every slot (and the two runs cover different spans of WAL).
    const ours = (writer: CollectingWriter) => writer.records.filter((r) => r.change.operation !== 'MESSAGE')
    assertSameRecords(ours(streamed), ours(unstreamed), 'streaming on vs. off')
    // The server reports slot statistics with a delay: give it a moment, without failing (callers decide).
    await waitFor(async () => (await slotStats(sql, slot)).streamTxns > 0, 5_000).catch(() => {})
    const stats = { streamed: await slotStats(sql, slot), unstreamed: await slotStats(sql, copy) }
    return { streamed: ours(streamed), unstreamed: ours(unstreamed), logger, spool, stats }
  } finally {
    await run?.stop().catch(() => {})
    await dropSlot(sql, slot).catch(() => {})
    await dropSlot(sql, copy).catch(() => {})
    await sql.unsafe(`drop publication if exists ${publication}`)
    spool.remove()
  }
}

/** Waits for `work`, but fails at once with the pipeline's error if the pipeline ends first. */
async function untilFailed(work: Promise<void>, pipeline: Promise<void>): Promise<void> {
  const failed = pipeline.then(() => Promise.reject(new Error('the pipeline stopped by itself')))
  failed.catch(() => {})
  await Promise.race([work, failed])
}

/**
 * The xids of the streamed transactions the pipeline replayed and discarded, from its debug log.
 * Other sessions' large transactions stream to every slot too (empty when they touch no published
 * table), so tests look for their own xids rather than count.
 */
export function streamedTransactions(logger: ReturnType<typeof recordingLogger>): { replayed: Set<number>; discarded: Set<number> } {
  const xids = (message: string) => new Set(logger.events.filter((e) => e.message === message).map((e) => Number(e.fields?.xid)))
  return { replayed: xids('replayed a streamed transaction'), discarded: xids('discarded an aborted streamed transaction') }
}
