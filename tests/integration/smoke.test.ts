/**
 * @module A quick pass over what every supported server version (PostgreSQL 12–18) must do:
 * stream changes, resume after a restart, survive kill -9, TRUNCATE, a partitioned table, and
 * the options a server before 14 lacks. CI runs this file against each major version
 * (scripts/pg-versions.sh); the other test files cover each behaviour in depth.
 */
import { readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type postgres from 'postgres'
import { test } from '../harness.ts'
import { assert, assertEquals, assertRejects } from '../assert.ts'
import { ReplicationConnection } from '../../src/pg/replication.ts'
import { FIXTURES, FixtureProcess } from './process.ts'
import { CollectingWriter, dropSlot, serverVersion, sqlClient, startPipeline, TEST_URL, uniqueName, waitFor, waitForStreaming } from './support.ts'

type Row = Record<string, unknown>

/** [operation, table, values] of the records of `tables` (other sessions' changes do not reach a table publication, but stay safe). */
function summary(writer: CollectingWriter, ...tables: string[]): [unknown, unknown, unknown][] {
  const names = new Set(tables.map((t) => `public.${t}`))
  return writer
    .parsed()
    .filter((r) => names.has(r.table_name as string))
    .map((r) => [r.operation, r.table_name, r.values])
}

/** Starts a pipeline on a new slot and publication for `tables` and waits until it streams. */
async function stream(sql: postgres.Sql, slot: string, publication: string, tables: string[], writer = new CollectingWriter()) {
  const run = startPipeline({ postgres: { url: TEST_URL, slot, publication, tables, createSlot: true, createPublication: true }, writer })
  await waitForStreaming(sql, slot)
  return { writer, run }
}

async function cleanUp(sql: postgres.Sql, slot: string, publication: string, drop: string): Promise<void> {
  try {
    await dropSlot(sql, slot)
  } finally {
    await sql.unsafe(`drop table if exists ${drop} cascade; drop publication if exists ${publication}`)
    await sql.end()
  }
}

test('smoke: INSERT, UPDATE and DELETE stream in commit order', async () => {
  const sql = sqlClient()
  const [table, slot, publication] = [uniqueName('smoke'), uniqueName('s'), uniqueName('p')]
  try {
    await sql.unsafe(`create table ${table} (id int primary key, note text)`)
    const { writer, run } = await stream(sql, slot, publication, [table])
    await sql.unsafe(`insert into ${table} values (1, 'one'), (2, 'two')`)
    await sql.begin((tx) => [tx.unsafe(`update ${table} set note = 'uno' where id = 1`), tx.unsafe(`delete from ${table} where id = 2`)])
    await waitFor(() => summary(writer, table).length >= 4, 15_000, '4 records')
    await run.stop()
    const t = `public.${table}`
    assertEquals(summary(writer, table), [
      ['INSERT', t, [1, 'one']],
      ['INSERT', t, [2, 'two']],
      ['UPDATE', t, [1, 'uno']],
      ['DELETE', t, [2]],
    ])
  } finally {
    await cleanUp(sql, slot, publication, table)
  }
})

test('smoke: a restart on the same slot sends what was committed while stopped, and nothing again', async () => {
  const sql = sqlClient()
  const [table, slot, publication] = [uniqueName('smoke'), uniqueName('s'), uniqueName('p')]
  try {
    await sql.unsafe(`create table ${table} (id int primary key)`)
    const first = await stream(sql, slot, publication, [table])
    await sql.unsafe(`insert into ${table} select generate_series(1, 500)`)
    await waitFor(() => summary(first.writer, table).length >= 500, 15_000, 'run 1 records')
    await first.run.stop()
    await sql.unsafe(`insert into ${table} select generate_series(501, 700)`)
    const second = await stream(sql, slot, publication, [table])
    await waitFor(() => summary(second.writer, table).length >= 200, 15_000, 'run 2 records')
    await sql.unsafe(`insert into ${table} values (701)`)
    await waitFor(() => summary(second.writer, table).length >= 201, 15_000, 'the record committed during run 2')
    await second.run.stop()
    assertEquals(
      summary(first.writer, table).map((r) => (r[2] as number[])[0]),
      range(1, 500),
    )
    assertEquals(
      summary(second.writer, table).map((r) => (r[2] as number[])[0]),
      range(501, 701),
    )
  } finally {
    await cleanUp(sql, slot, publication, table)
  }
})

test('smoke: kill -9 of the streaming process, then a restart: every committed row arrives, in order', async () => {
  const sql = sqlClient()
  const [table, slot, publication] = [uniqueName('smoke'), uniqueName('s'), uniqueName('p')]
  const output = join(tmpdir(), `pgtb-${table}.jsonl`)
  const env = {
    PGTB_FIXTURE_SLOT: slot,
    PGTB_FIXTURE_PUBLICATION: publication,
    PGTB_FIXTURE_TABLES: table,
    PGTB_FIXTURE_OUTPUT: output,
    PGTB_FIXTURE_BATCH_SIZE: '50',
  }
  let fixture: FixtureProcess | undefined
  try {
    await sql.unsafe(`create table ${table} (id int primary key)`)
    fixture = new FixtureProcess(FIXTURES.streamToFile, env)
    await fixture.waitForLine(/^streaming /)
    // Killed once the first records are written, while the workload still commits.
    const workload = (async () => {
      for (let tx = 0; tx < 20; tx++) await sql.unsafe(`insert into ${table} select generate_series(${tx * 100 + 1}, ${tx * 100 + 100})`)
    })()
    await waitFor(() => idsIn(output).length > 0, 15_000, 'the first records in the file')
    await fixture.kill()
    await workload
    await waitFor(
      async () => (await sql`select 1 from pg_replication_slots where slot_name = ${slot} and active`).length === 0,
      15_000,
      "the killed stream's slot released",
    )
    for (let tx = 20; tx < 30; tx++) await sql.unsafe(`insert into ${table} select generate_series(${tx * 100 + 1}, ${tx * 100 + 100})`)
    fixture = new FixtureProcess(FIXTURES.streamToFile, env)
    await fixture.waitForLine(/^streaming /)
    await waitFor(() => new Set(idsIn(output)).size >= 3000, 30_000, 'all 3000 rows in the file')
    fixture.signal('SIGTERM')
    assertEquals((await fixture.waitForExit()).code, 0, 'clean stop')
    const firsts = [...new Set(idsIn(output))]
    assertEquals(firsts, range(1, 3000), 'every row once at least, first occurrences in commit order')
  } finally {
    await fixture?.kill()
    rmSync(output, { force: true })
    await cleanUp(sql, slot, publication, table)
  }
})

test('smoke: TRUNCATE is one record per table', async () => {
  const sql = sqlClient()
  const [a, b, slot, publication] = [uniqueName('smoke'), uniqueName('smoke'), uniqueName('s'), uniqueName('p')]
  try {
    await sql.unsafe(`create table ${a} (id int primary key); create table ${b} (id int primary key)`)
    const { writer, run } = await stream(sql, slot, publication, [a, b])
    await sql.unsafe(`insert into ${a} values (1); truncate ${a}, ${b}`)
    await waitFor(() => summary(writer, a, b).length >= 3, 15_000, '3 records')
    await run.stop()
    assertEquals(summary(writer, a, b), [
      ['INSERT', `public.${a}`, [1]],
      ['TRUNCATE', `public.${a}`, []],
      ['TRUNCATE', `public.${b}`, []],
    ])
  } finally {
    await cleanUp(sql, slot, publication, `${a}, ${b}`)
  }
})

test("smoke: a partitioned table streams under its own name from PostgreSQL 13 on, under its partitions' names on 12", async () => {
  const sql = sqlClient()
  const [root, slot, publication] = [uniqueName('smoke'), uniqueName('s'), uniqueName('p')]
  try {
    await sql.unsafe(`
      create table ${root} (id int primary key, note text) partition by range (id);
      create table ${root}_low partition of ${root} for values from (1) to (100);
      create table ${root}_high partition of ${root} for values from (100) to (200)`)
    // PostgreSQL 12 cannot publish a partitioned table, only its partitions (and then under their names).
    const viaRoot = (await serverVersion()) >= 130000
    if (!viaRoot) {
      const refused = startPipeline({
        postgres: { url: TEST_URL, slot, publication, tables: [root], createSlot: true, createPublication: true },
        writer: new CollectingWriter(),
      })
      const error = await assertRejects(
        () => refused.done,
        `"${root}" is a partitioned table, which PostgreSQL before 13 cannot publish: list its partitions in tables instead`,
      )
      assertEquals((error as { code?: string }).code, 'partitioned_table_unsupported')
    }
    const tables = viaRoot ? [root] : [`${root}_low`, `${root}_high`]
    const { writer, run } = await stream(sql, slot, publication, tables)
    await sql.unsafe(`insert into ${root} values (1, 'low'), (150, 'high'); update ${root} set id = 50 where id = 150; truncate ${root}`)
    const all = [root, `${root}_low`, `${root}_high`]
    await waitFor(() => summary(writer, ...all).some((r) => r[0] === 'TRUNCATE'), 15_000, 'the TRUNCATE')
    await run.stop()
    const [low, high] = viaRoot ? [`public.${root}`, `public.${root}`] : [`public.${root}_low`, `public.${root}_high`]
    // Moving a row to another partition is a DELETE and an INSERT.
    const changes: [unknown, unknown, unknown][] = [
      ['INSERT', low, [1, 'low']],
      ['INSERT', high, [150, 'high']],
      ['DELETE', high, [150]],
      ['INSERT', low, [50, 'high']],
    ]
    const truncates: [unknown, unknown, unknown][] = viaRoot
      ? [['TRUNCATE', low, []]]
      : [
          ['TRUNCATE', low, []],
          ['TRUNCATE', high, []],
        ]
    assertEquals(summary(writer, ...all), [...changes, ...truncates])
  } finally {
    await cleanUp(sql, slot, publication, root)
  }
})

test('smoke: logical messages are refused below PostgreSQL 14 with the setting to change, and started from 14 on', async () => {
  const sql = sqlClient()
  const [slot, publication] = [uniqueName('s'), uniqueName('p')]
  const replication = await ReplicationConnection.open(TEST_URL, 10_000)
  try {
    await sql.unsafe(`create publication ${publication}`)
    await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput')`
    const start = () => replication.start({ slot, publication, startLsn: 0n, protoVersion: 1, streaming: false, messages: true })
    if ((await serverVersion()) >= 140000) {
      await start()
      await waitForStreaming(sql, slot)
    } else {
      const error = await assertRejects(
        start,
        /messagePrefixes asks for logical decoding messages, which PostgreSQL 14 and later send; this server is PostgreSQL \d+\.\d+: remove messagePrefixes/,
      )
      assertEquals((error as { code?: string }).code, 'messages_unsupported')
      assert(replication.serverVersion < 140000)
      // The pipeline refuses before it creates a slot, which would retain WAL for nothing.
      const fresh = uniqueName('s')
      const run = startPipeline({
        postgres: { url: TEST_URL, slot: fresh, publication, tables: [], createSlot: true, createPublication: false, messagePrefixes: ['*'] },
        writer: new CollectingWriter(),
      })
      await assertRejects(() => run.done, 'messagePrefixes asks for logical decoding messages')
      assertEquals((await sql`select 1 from pg_replication_slots where slot_name = ${fresh}`).length, 0, 'no slot created')
    }
  } finally {
    await replication.close()
    await sql.unsafe(`drop publication if exists ${publication}`)
    await dropSlot(sql, slot)
    await sql.end()
  }
})

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i)
}

/** The first value of every complete line of the JSON-lines file, in file order (an unterminated last line is left out). */
function idsIn(path: string): number[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return []
  }
  const lines = text.split('\n').slice(0, -1)
  return lines.map((line) => ((JSON.parse(line) as Row).values as number[])[0]!)
}
