/**
 * The heartbeat, against a database of its own (created here, dropped afterwards) that nothing else
 * touches, while the suite's database takes the writes that move the server's WAL.
 *
 * What these tests found: with this database idle, the slot passes the other database's writes
 * with the heartbeat off too, on PostgreSQL 12 to 18 — the walsender sends a keepalive carrying its
 * new position once it has read the other database's WAL, and the pipeline confirms a keepalive's
 * position when nothing is in flight. Mostly within a second; once on 12, only at the next status
 * update (10 s), as a walsender before 15 sends no further keepalive until it hears back. The heartbeat makes the difference
 * when something IS in flight for long: a streamed in-progress transaction of this database (its
 * changes wait in a spool file), during which no keepalive position may be confirmed, while each
 * heartbeat commits a transaction of its own whose position can be.
 */
import type postgres from 'postgres'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { parseLsn, type Lsn } from '../../src/pg/lsn.ts'
import { HEARTBEAT_PREFIX } from '../../src/ops/heartbeat.ts'
import { recordingLogger } from './streaming-support.ts'
import { CollectingWriter, requireServer, sqlClient, startPipeline, TEST_URL, uniqueName, waitFor, waitForStreaming } from './support.ts'

/** Bytes of WAL the other database writes: far more than a keepalive or heartbeat could account for. */
const OTHER_WAL_ROWS = 100_000

interface OwnDatabase {
  readonly url: string
  readonly sql: postgres.Sql
  readonly table: string
  readonly slot: string
}

/** A fresh database with one published table; the slot and the database are dropped afterwards. */
async function withOwnDatabase(body: (db: OwnDatabase, main: postgres.Sql) => Promise<void>): Promise<void> {
  const main = sqlClient()
  const name = uniqueName('hb_db')
  await main.unsafe(`create database "${name}"`)
  const url = new URL(TEST_URL)
  url.pathname = `/${name}`
  const sql = sqlClient(url.href)
  const db = { url: url.href, sql, table: uniqueName('idle'), slot: uniqueName('s') }
  try {
    await sql.unsafe(`create table "${db.table}" (id int primary key, note text)`)
    await body(db, main)
  } finally {
    await waitFor(async () => (await sql`select 1 from pg_replication_slots where slot_name = ${db.slot} and active`).length === 0, 15_000, 'slot released')
    await sql`select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = ${db.slot}`
    await sql.end()
    await dropDatabase(main, name)
    await main.end()
  }
}

/** DROP DATABASE waits for our own sessions to go (PostgreSQL 12 has no WITH (FORCE)). */
async function dropDatabase(main: postgres.Sql, name: string): Promise<void> {
  await waitFor(
    async () => {
      await main`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name} and pid <> pg_backend_pid()`
      try {
        await main.unsafe(`drop database if exists "${name}"`)
        return true
      } catch {
        return false
      }
    },
    15_000,
    `database ${name} dropped`,
  )
}

async function confirmedFlush(sql: postgres.Sql, slot: string): Promise<Lsn> {
  const [row] = await sql<{ lsn: string | null }[]>`select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = ${slot}`
  return parseLsn(row?.lsn ?? '0/0')
}

/** Writes a few MB in the suite's database; returns the server's WAL position after them. */
async function writeElsewhere(main: postgres.Sql): Promise<Lsn> {
  const table = uniqueName('busy')
  await main.unsafe(`create table ${table} (id int, pad text)`)
  try {
    await main.unsafe(`insert into ${table} select g, repeat('x', 100) from generate_series(1, ${OTHER_WAL_ROWS}) g`)
  } finally {
    await main.unsafe(`drop table ${table}`)
  }
  // The test server commits asynchronously: the insert position, not the flush position, is past the writes.
  const [row] = await main<{ lsn: string }[]>`select pg_current_wal_insert_lsn()::text as lsn`
  return parseLsn(row!.lsn)
}

function start(db: OwnDatabase, heartbeatSeconds: number, extra: { messagePrefixes?: string[] } = {}) {
  const writer = new CollectingWriter()
  const flushed: Lsn[] = []
  const logger = recordingLogger()
  const postgres = {
    url: db.url,
    slot: db.slot,
    publication: db.slot,
    tables: [db.table],
    createSlot: true,
    createPublication: true,
    heartbeatSeconds,
    ...extra,
  }
  const run = startPipeline({ postgres, writer, logger, progressSeconds: 0, onFlushed: (lsn) => flushed.push(lsn) })
  return { run, writer, flushed, logger }
}

test("heartbeat: an idle database's slot passes another database's writes with and without it; with it, each heartbeat is a transaction of its own, confirmed, never a record", async () => {
  await withOwnDatabase(async (db, main) => {
    for (const heartbeatSeconds of [0, 1]) {
      const { run, writer, flushed, logger } = start(db, heartbeatSeconds)
      try {
        await waitForStreaming(db.sql, db.slot)
        // The pipeline's own writes at start (its state table) commit before this point; on PostgreSQL 12 and 13 they arrive as empty transactions.
        const [mark] = await main<{ lsn: string }[]>`select pg_current_wal_insert_lsn()::text as lsn`
        const end = await writeElsewhere(main)
        const began = Date.now()
        await waitFor(
          async () => (await confirmedFlush(db.sql, db.slot)) >= end,
          30_000,
          `slot past the other database's writes (heartbeat ${heartbeatSeconds} s)`,
        )
        const took = Date.now() - began
        const commits = flushed.filter((lsn) => lsn > parseLsn(mark!.lsn))
        if (heartbeatSeconds === 0) {
          // Nothing happened in this database: the advance came from keepalive positions alone.
          assertEquals(commits, [], 'no transaction of this database was confirmed')
        } else {
          await waitFor(() => flushed.some((lsn) => lsn > end), 15_000, 'a heartbeat committed after the writes, confirmed')
          const beats = logger.events.filter((e) => e.message === 'heartbeat')
          assert(beats.length > 0, 'heartbeats were emitted (debug log with their positions)')
          assert(!logger.events.some((e) => e.level === 'warn' && e.message.startsWith('heartbeat failed')), 'no heartbeat failed')
        }
        assertEquals(writer.records.length, 0, 'heartbeats are never records')
        console.log(`     heartbeat ${heartbeatSeconds} s: slot past ${OTHER_WAL_ROWS} rows of another database's WAL ${took} ms after the writes`)
      } finally {
        await run.stop()
      }
    }
  })
})

test("heartbeat: while a streamed transaction of this database is open, only the heartbeat moves the slot past another database's writes", async () => {
  await requireServer(14, 'streaming in-progress transactions')
  await withOwnDatabase(async (db, main) => {
    for (const heartbeatSeconds of [0, 1]) {
      const { run, writer, logger } = start(db, heartbeatSeconds)
      const open = sqlClient(db.url)
      let commit!: () => void
      const held = new Promise<void>((resolve) => (commit = resolve))
      const base = heartbeatSeconds * 10_000
      try {
        await waitForStreaming(db.sql, db.slot)
        // 1000 rows of ~330 bytes pass the test server's logical_decoding_work_mem (64kB): the server streams them before the commit.
        const transaction = open.begin(async (tx) => {
          await tx.unsafe(`insert into "${db.table}" select g, repeat(md5(g::text), 10) from generate_series(${base + 1}, ${base + 1000}) g`)
          await held
          await tx.unsafe(`insert into "${db.table}" values (${base}, 'last')`)
        })
        await new Promise((resolve) => setTimeout(resolve, 1_000))
        const end = await writeElsewhere(main)
        if (heartbeatSeconds === 0) {
          // Keepalives come at once (the first test); five seconds of them must not confirm past the open transaction.
          await new Promise((resolve) => setTimeout(resolve, 5_000))
          const confirmed = await confirmedFlush(db.sql, db.slot)
          assert(confirmed < end, "without a heartbeat the slot stays before the other database's writes while the transaction is open")
        } else {
          await waitFor(async () => (await confirmedFlush(db.sql, db.slot)) >= end, 30_000, "slot past the other database's writes thanks to the heartbeat")
        }
        commit()
        await transaction
        await waitFor(() => writer.records.length >= 1001, 30_000, 'the open transaction delivered once committed')
        assertEquals(writer.records.length, 1001, 'each row once')
        assert(!writer.parsed().some((r) => JSON.stringify(r).includes(HEARTBEAT_PREFIX)), 'no heartbeat among the records')
      } finally {
        commit()
        await open.end()
        await run.stop()
      }
    }
  })
})

test('heartbeat: never a record, even with every message prefix asked for; other messages still are', async () => {
  await requireServer(14, 'logical messages in the stream')
  await withOwnDatabase(async (db) => {
    const { run, writer, logger } = start(db, 1, { messagePrefixes: ['*'] })
    try {
      await waitForStreaming(db.sql, db.slot)
      await waitFor(() => logger.events.filter((e) => e.message === 'heartbeat').length >= 2, 15_000, 'two heartbeats')
      await db.sql`select pg_logical_emit_message(true, ${HEARTBEAT_PREFIX}, 'forged')`
      await db.sql`select pg_logical_emit_message(true, 'app.audit', 'kept')`
      await waitFor(() => writer.records.length > 0, 15_000, 'the app message delivered')
      const beat = logger.events.filter((e) => e.message === 'heartbeat').at(-1)!
      await waitFor(async () => (await confirmedFlush(db.sql, db.slot)) > parseLsn(String(beat.fields?.lsn)), 15_000, 'a heartbeat confirmed')
      const records = writer.parsed().map((r) => JSON.stringify(r))
      assertEquals(records.length, 1, `only the app message: ${records.join('\n')}`)
      assert(records[0]!.includes('app.audit'), records[0])
    } finally {
      await run.stop()
    }
  })
})
