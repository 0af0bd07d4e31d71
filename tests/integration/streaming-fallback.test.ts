/**
 * When the server fails to decode a transaction it streams in progress. PostgreSQL 15.18 does so
 * for a streamed transaction that rolls back a savepoint in which it altered a table, and later
 * rewrites a table (ALTER COLUMN TYPE): "could not map filenode … to relation OID". test_decoding
 * with stream-changes fails the same way, so it is the server's decoding, not pgoutput or this tool.
 * Without streaming the same WAL decodes. With postgres.streaming "on" the pipeline fails with a
 * clear error; with "auto" it carries on without streaming and delivers the transaction whole.
 * Should a server version decode it, both runs simply succeed.
 *
 * Every walsender that streams decodes every transaction of its database, published or not: such
 * a transaction fails all of them. So the test runs in a database of its own, where no other
 * test's slot (of this or a concurrent run) decodes it.
 */
import postgres from 'postgres'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { PgToBrokersError } from '../../src/errors.ts'
import { CollectingWriter, dropSlot, requireServer, sqlClient, startPipeline, TEST_URL, uniqueName } from './support.ts'
import { assertWholeTransactions, PAYLOAD_SQL, recordingLogger, spoolParent, waitForConfirmed } from './streaming-support.ts'

test('a server failure decoding a streamed transaction: "on" fails clearly, "auto" carries on without streaming', async () => {
  await requireServer(14, 'streaming of in-progress transactions')
  const admin = sqlClient()
  const database = uniqueName('pgtb_fallback')
  const url = new URL(TEST_URL)
  url.pathname = `/${database}`
  await admin.unsafe(`create database ${database}`)
  const sql = postgres(url.href, { max: 2, onnotice: () => {}, idle_timeout: 5 })
  const table = uniqueName('sf')
  const publication = uniqueName('p')
  const slot = uniqueName('s')
  const copy = `${slot}_copy`
  const spool = spoolParent()
  try {
    await sql.unsafe(`create table ${table} (id int primary key, a text)`)
    await sql.unsafe(`create publication ${publication} for table ${table}`)
    await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput')`
    await sql`select pg_copy_logical_replication_slot(${slot}, ${copy})`
    await sql.begin(async (tx) => {
      await tx.unsafe(`insert into ${table} select g, ${PAYLOAD_SQL} from generate_series(1, 1500) g`)
      await tx.unsafe(`alter table ${table} add column b int default 7`)
      await tx.unsafe(`insert into ${table} select g, ${PAYLOAD_SQL}, 1 from generate_series(1501, 3000) g`)
      await tx.unsafe(`savepoint s1`)
      await tx.unsafe(`alter table ${table} add column c text default 'c'`)
      await tx.unsafe(`insert into ${table} select g, ${PAYLOAD_SQL}, 1, 'x' from generate_series(3001, 4000) g`)
      await tx.unsafe(`rollback to savepoint s1`)
      await tx.unsafe(`insert into ${table} select g, ${PAYLOAD_SQL}, 2 from generate_series(4001, 5000) g`)
      await tx.unsafe(`alter table ${table} alter column b type bigint`)
      await tx.unsafe(`insert into ${table} select g, 'x', g from generate_series(5001, 5100) g`)
    })
    const base = { url: url.href, publication, tables: [], createSlot: false, createPublication: false, spoolDirectory: spool.path }

    // "on": the failure is reported as such, with the way out.
    const explicit = startPipeline({ postgres: { ...base, slot, streaming: 'on' }, writer: new CollectingWriter() })
    const outcome = await Promise.race([
      explicit.done.then(
        () => 'stopped',
        (error: unknown) => error,
      ),
      waitForConfirmed(sql, slot, 'the "on" run', 20_000).then(() => 'decoded'),
    ])
    await explicit.stop().catch(() => {})
    const serverFailed = outcome instanceof PgToBrokersError
    if (serverFailed) {
      assertEquals(outcome.code, 'streamed_decoding_failed', `error code (${outcome.message})`)
      assert(/postgres\.streaming "off"/.test(outcome.message), `the message says what to do: ${outcome.message}`)
    } else {
      assertEquals(outcome, 'decoded', 'the "on" run either fails clearly or decodes the transaction')
    }

    // "auto": the same WAL arrives whole, streaming switched off on the way, within the one run.
    const logger = recordingLogger()
    const writer = new CollectingWriter()
    const run = startPipeline({ postgres: { ...base, slot: copy, streaming: 'auto' }, writer, logger })
    await waitForConfirmed(sql, copy, 'the "auto" run')
    await run.stop()
    const fellBack = logger.events.some((e) => e.level === 'warn' && /continuing without streaming/.test(e.message))
    assertEquals(fellBack, serverFailed, 'the pipeline stopped streaming exactly when the server failed')
    const blocks = [...assertWholeTransactions(writer.records.filter((r) => r.change.operation !== 'MESSAGE')).values()]
    assertEquals(blocks.length, 1, 'one transaction')
    const ids = blocks[0]!.map((r) => r.change.values[0] as number)
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
    assertEquals(ids, [...range(1, 3000), ...range(4001, 5100)], 'its rows, without the rolled-back ones')
    assertEquals(spool.files(), [], 'no spool directory left')
    console.log(
      `     PostgreSQL ` +
        `${serverFailed ? `failed with streaming on (${(outcome as Error).message.split(';')[0]}); "auto" fell back` : 'decoded it with streaming on'}`,
    )
  } finally {
    await dropSlot(sql, slot).catch(() => {})
    await dropSlot(sql, copy).catch(() => {})
    await sql.end()
    await admin.unsafe(`drop database if exists ${database} with (force)`)
    await admin.end()
    spool.remove()
  }
})
