// Snapshot requests against the real server: the progress table (all-or-nothing requests, one active
// snapshot per table, progress, order, cancel, a role that may not create it), the pipeline leaving
// that table's changes out, and `pg-to-brokers snapshot` through main() with each bad input's message.
import process from 'node:process'
import type postgres from 'postgres'
import { skip, test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { main } from '../../src/cli/main.ts'
import { PgToBrokersError } from '../../src/errors.ts'
import { SnapshotProgressStore, snapshotTableOf, snapshotTableText } from '../../src/snapshot/progress-store.ts'
import { CollectingWriter, dropSlot, requireServer, serverVersion, sqlClient, startPipeline, TEST_URL, uniqueName, waitFor } from './support.ts'

/** A schema of its own per test: the progress table goes in the state table's schema, so tests never share it. */
async function withSchema(fn: (sql: postgres.Sql, schema: string) => Promise<void>): Promise<void> {
  const sql = sqlClient()
  const schema = uniqueName('snapreq')
  try {
    await sql.unsafe(`create schema ${schema}`)
    await fn(sql, schema)
  } finally {
    await sql.unsafe(`drop schema if exists ${schema} cascade`)
    await sql.end()
  }
}

const stateTable = (schema: string) => ({ schema, name: 'slots' })

async function rejection(promise: Promise<unknown>): Promise<PgToBrokersError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof PgToBrokersError) return error
    throw error
  }
  throw new Error('expected a PgToBrokersError')
}

async function rowsOf(sql: postgres.Sql, schema: string): Promise<{ id: string; slot: string; table_name: string; status: string }[]> {
  return await sql.unsafe(`select id::text as id, slot, table_name, status from "${schema}".pg_to_brokers_snapshots order by id`)
}

test('snapshot store: requests all tables or none; a second active request for a table is refused naming the table and the running id', async () => {
  await withSchema(async (sql, schema) => {
    const store = new SnapshotProgressStore(sql, stateTable(schema))
    const [a, b] = await store.request(
      's1',
      [
        { table: `${schema}.a`, rowsEstimate: 1200 },
        { table: `${schema}.b`, where: 'id > 5' },
      ],
      'incremental',
    )
    assertEquals(
      [a!.status, a!.table, a!.rowsEstimate, a!.where, a!.lastKey, a!.rowsDone, a!.kind],
      ['requested', `${schema}.a`, 1200, null, null, 0, 'incremental'],
    )
    assertEquals([b!.where, b!.rowsEstimate], ['id > 5', null])
    await store.start(b!.id)
    // c is new, b is running: nothing of the request is kept.
    const refused = await rejection(store.request('s1', [{ table: `${schema}.c` }, { table: `${schema}.b` }], 'incremental'))
    assertEquals(refused.code, 'snapshot_already_running')
    assert(refused.message.includes(`${schema}.b`) && refused.message.includes(`is already running (request ${b!.id})`), refused.message)
    assert(refused.message.includes(`snapshot --cancel --tables ${schema}.b --slot s1`), refused.message)
    assertEquals((await rowsOf(sql, schema)).length, 2, 'a refused request inserted nothing')
    // The same table for another slot, and again once the first is done, are fine.
    await store.request('s2', [{ table: `${schema}.b` }], 'incremental')
    await store.finish(b!.id)
    await store.request('s1', [{ table: `${schema}.b` }], 'initial')
    assertEquals((await rowsOf(sql, schema)).length, 4)
  })
})

test('snapshot store: progress advances, pending lists requested and running oldest first, cancel stops a request', async () => {
  await withSchema(async (sql, schema) => {
    const store = new SnapshotProgressStore(sql, stateTable(schema))
    assertEquals(await store.pending('s'), [], 'no table yet: nothing pending')
    const [first] = await store.request('s', [{ table: `${schema}.first` }], 'initial')
    const [second, third] = await store.request('s', [{ table: `${schema}.second` }, { table: `${schema}."Third"` }], 'incremental')
    await store.request('other', [{ table: `${schema}.first` }], 'incremental')
    assertEquals(await store.start(second!.id), true)
    assertEquals(await store.advance(second!.id, ['10', `it's "x"`], 500), true)
    assertEquals(
      (await store.pending('s')).map((r) => [r.table, r.status, r.lastKey, r.rowsDone]),
      [
        [`${schema}.first`, 'requested', null, 0],
        [`${schema}.second`, 'running', ['10', 'it\'s "x"'], 500],
        [`${schema}."Third"`, 'requested', null, 0],
      ],
    )
    assertEquals(await store.finish(first!.id), true)
    assertEquals(await store.fail(third!.id, 'table dropped'), true)
    assertEquals((await store.get(third!.id))?.error, 'table dropped')
    assertEquals((await store.get(third!.id))?.status, 'failed')
    assertEquals(await store.advance(first!.id, ['1'], 1), false, 'a finished request does not move')
    const cancelled = await store.cancel('s', `${schema}.second`)
    assertEquals(
      cancelled.map((r) => [r.id, r.status]),
      [[second!.id, 'cancelled']],
    )
    assertEquals(await store.advance(second!.id, ['11'], 600), false, 'a cancelled request tells its reader to stop')
    assertEquals(await store.pending('s'), [])
    assertEquals((await store.pending('other')).length, 1)
  })
})

test('snapshot store: a role that may not create the table gets snapshot_table_denied with SQL that works', async () => {
  await withSchema(async (sql, schema) => {
    const role = uniqueName('snaprole')
    const url = new URL(TEST_URL)
    url.username = role
    url.password = 'snap-role-5521'
    await sql.unsafe(`create role ${role} login password 'snap-role-5521'; grant usage on schema ${schema} to ${role}`)
    const { default: postgresClient } = await import('postgres')
    const limited = postgresClient(url.href, { max: 1, onnotice: () => {} })
    try {
      const store = new SnapshotProgressStore(limited, stateTable(schema))
      const denied = await rejection(store.request('s', [{ table: 'public.t' }], 'incremental'))
      assertEquals(denied.code, 'snapshot_table_denied')
      const fix = /Let an administrator run: (.*); or name a slot record table/.exec(denied.message)?.[1]
      assert(fix !== undefined && fix.includes(`CREATE TABLE IF NOT EXISTS "${schema}"."pg_to_brokers_snapshots"`), denied.message)
      await sql.unsafe(fix.replaceAll('<this role>', role))
      const [made] = await store.request('s', [{ table: 'public.t' }], 'incremental')
      assertEquals(made?.status, 'requested')
    } finally {
      await limited.end()
      await sql.unsafe(`drop owned by ${role}; drop role if exists ${role}`).catch(() => {})
    }
  })
})

test('pipeline: changes to the snapshot table are never delivered, even when the publication publishes every table', async () => {
  await withSchema(async (sql, schema) => {
    const slot = uniqueName('s')
    const table = `${schema}.t`
    await sql.unsafe(`create table ${table} (id int primary key)`)
    const store = new SnapshotProgressStore(sql, stateTable(schema))
    await store.ensure()
    const writer = new CollectingWriter()
    const pg = { url: TEST_URL, slot, publication: slot, tables: [], createSlot: true, createPublication: true, stateTable: `${schema}.slots` }
    const pipeline = startPipeline({ postgres: pg, writer, batch: { maxLatencyMs: 5 } })
    try {
      await waitFor(async () => (await sql`select 1 from pg_publication where pubname = ${slot} and puballtables`).length > 0, 30_000, 'publication')
      await waitFor(async () => (await sql`select 1 from pg_replication_slots where slot_name = ${slot} and active`).length > 0, 30_000, 'streaming')
      await sql.begin(async (tx) => {
        await tx.unsafe(`insert into "${schema}".pg_to_brokers_snapshots (slot, table_name) values ('not_this_slot', 'x.y')`)
        await tx.unsafe(`insert into ${table} values (1)`)
      })
      await sql.unsafe(`insert into ${table} values (2)`)
      const ours = () => writer.parsed().filter((r) => String(r.table_name).startsWith(schema) || String(r.table_name).includes('pg_to_brokers_snapshots'))
      await waitFor(() => ours().length >= 2, 30_000, 'both rows of the table')
      assertEquals(
        ours().map((r) => r.table_name),
        [table, table],
      )
    } finally {
      await pipeline.stop()
      await dropSlot(sql, slot)
      await sql.unsafe(`drop publication if exists ${slot}`)
    }
  })
})

test('snapshot table helpers: the progress table sits beside the state table; stored names read back as --tables reads them', () => {
  assertEquals(snapshotTableOf({ schema: 'ops', name: 'slots' }), { schema: 'ops', name: 'pg_to_brokers_snapshots' })
  assertEquals(snapshotTableText({ schema: 'public', name: 'orders' }), 'public.orders')
  assertEquals(snapshotTableText({ schema: 'My Schema', name: 'a.b' }), '"My Schema"."a.b"')
})

// ---- the snapshot command ---------------------------------------------------------------------

/** Runs main() with stdout and stderr captured. */
async function runMain(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' }
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write }
  const capture = (into: 'stdout' | 'stderr') =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      out[into] += typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk)
      const done = rest.find((item) => typeof item === 'function') as (() => void) | undefined
      done?.()
      return true
    }) as typeof process.stdout.write
  process.stdout.write = capture('stdout')
  process.stderr.write = capture('stderr')
  try {
    const code = await main(argv, { PG_TO_BROKERS_POSTGRES_URL: TEST_URL })
    return { code, ...out }
  } finally {
    process.stdout.write = writes.stdout
    process.stderr.write = writes.stderr
  }
}

/** A schema with a published table `good`, an unpublished `lonely`, a published keyless `nokey`; the command's common flags. */
async function withTables(fn: (sql: postgres.Sql, schema: string, flags: string[]) => Promise<void>): Promise<void> {
  await withSchema(async (sql, schema) => {
    const publication = uniqueName('pub')
    await sql.unsafe(`create table ${schema}.good (id int primary key, n int); insert into ${schema}.good select g, g from generate_series(1, 100) g; analyze ${schema}.good;
      create table ${schema}.lonely (id int primary key); create table ${schema}.nokey (n int);
      create publication ${publication} for table ${schema}.good, ${schema}.nokey`)
    try {
      await fn(sql, schema, ['--slot', 'cli_slot', '--publication', publication, '--state-table', `${schema}.slots`])
    } finally {
      await sql.unsafe(`drop publication if exists ${publication}`)
    }
  })
}

async function requestCount(sql: postgres.Sql, schema: string): Promise<number> {
  const [found] = await sql<{ table: string | null }[]>`select to_regclass(${`"${schema}".pg_to_brokers_snapshots`})::text as table`
  if (found?.table == null) return 0
  return (await sql.unsafe(`select 1 from "${schema}".pg_to_brokers_snapshots`)).length
}

test('cli snapshot: a good request prints its id and is stored; a second one is refused with the running id; --cancel cancels', async () => {
  await requireServer(14, 'incremental snapshots (logical messages as watermarks)')
  await withTables(async (sql, schema, flags) => {
    const made = await runMain(['snapshot', '--tables', `${schema}.good`, '--where', 'n % 2 = 0', ...flags])
    assertEquals(made.code, 0, made.stderr)
    const [id, table, status] = made.stdout.trim().split('\t')
    assertEquals([table, status], [`${schema}.good`, 'requested'])
    const rows = await sql.unsafe(`select id::text, slot, where_clause, kind, rows_estimate::int from "${schema}".pg_to_brokers_snapshots`)
    assertEquals({ ...rows[0] }, { id, slot: 'cli_slot', where_clause: 'n % 2 = 0', kind: 'incremental', rows_estimate: 100 })
    // Named twice (GOOD folds to good): one table, already requested.
    const again = await runMain(['snapshot', '--tables', `${schema}.GOOD,${schema}.good`, ...flags])
    assertEquals(again.code, 1)
    assert(again.stderr.includes(`a snapshot of ${schema}.good for slot "cli_slot" is already requested (request ${id})`), again.stderr)
    assert(again.stderr.includes('code=snapshot_already_running'), again.stderr)
    assertEquals(await requestCount(sql, schema), 1)
    const cancelled = await runMain(['snapshot', '--cancel', '--tables', `${schema}.good`, ...flags])
    assertEquals([cancelled.code, cancelled.stdout], [0, `${id}\t${schema}.good\tcancelled\n`])
    const none = await runMain(['snapshot', '--cancel', ...flags])
    assertEquals([none.code, none.stdout], [0, ''])
    assert(none.stderr.includes('nothing was cancelled'), none.stderr)
  })
})

test('cli snapshot: before PostgreSQL 14 the command is refused (snapshot_unsupported) and nothing is requested', async () => {
  if ((await serverVersion()) >= 140000) skip('runs on PostgreSQL 12 and 13, whose pgoutput cannot carry the watermarks')
  await withTables(async (sql, schema, flags) => {
    const refused = await runMain(['snapshot', '--tables', `${schema}.good`, ...flags])
    assertEquals(refused.code, 1, refused.stderr)
    assert(refused.stderr.includes('code=snapshot_unsupported') && refused.stderr.includes('PostgreSQL 14 or later'), refused.stderr)
    assertEquals(await requestCount(sql, schema), 0)
  })
})

test('cli snapshot: a missing, unpublished or keyless table, or a bad WHERE, is refused with its message and nothing is requested', async () => {
  await requireServer(14, 'incremental snapshots (logical messages as watermarks)')
  await withTables(async (sql, schema, flags) => {
    const cases: [string[], string][] = [
      [['--tables', `${schema}.good,${schema}.missing`], `cannot snapshot "${schema}"."missing": no such table`],
      [['--tables', `${schema}.good,${schema}.lonely`], `cannot snapshot "${schema}"."lonely": publication "`],
      [['--tables', `${schema}.good,${schema}.nokey`], `cannot snapshot "${schema}"."nokey" in chunks: it has no primary key`],
      [['--tables', `${schema}.good`, '--where', 'nope > 1'], 'column "nope" does not exist'],
      [['--tables', `${schema}.good`, '--where', '1) ; drop table good; select (1'], 'code=snapshot_bad_where'],
    ]
    for (const [args, message] of cases) {
      const run = await runMain(['snapshot', ...args, ...flags])
      assertEquals(run.code, 1, `${args.join(' ')}: ${run.stderr}`)
      assert(run.stderr.includes(message), `${args.join(' ')}: stderr ${JSON.stringify(run.stderr)} should contain ${JSON.stringify(message)}`)
      assertEquals(run.stdout, '')
      assertEquals(await requestCount(sql, schema), 0, `${args.join(' ')} inserted a request`)
    }
    const usage = await runMain(['snapshot', ...flags])
    assertEquals(usage.code, 2)
    assert(usage.stderr.includes('snapshot: --tables is required'), usage.stderr)
    assertEquals((await sql.unsafe(`select 1 from ${schema}.good`)).length, 100, 'the WHERE ran nothing')
  })
})
