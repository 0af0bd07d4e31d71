/**
 * Bad input, as a user meets it through the CLI: each case asserts the exact message, the exit
 * code, and that no slot advanced (or, before one would be created, that none was).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type postgres from 'postgres'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { describeExit, FixtureProcess, REPO_ROOT } from './process.ts'
import { dropSlot, sqlClient, TEST_URL, uniqueName, waitFor } from './support.ts'

const CLI = `${REPO_ROOT}src/cli/entry.ts`

async function run(args: string[], env: Record<string, string> = {}): Promise<FixtureProcess> {
  const p = new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: TEST_URL, ...env }, args)
  await p.waitForExit(30_000)
  return p
}

function expect(p: FixtureProcess, code: number, message: string): void {
  assertEquals(p.exitStatus?.code, code, `exit code (stderr: ${p.stderr.trim()})`)
  assert(p.stderr.includes(message), `stderr ${JSON.stringify(p.stderr.trim())} should contain ${JSON.stringify(message)}`)
}

async function slotState(sql: postgres.Sql, slot: string): Promise<string | undefined> {
  const [row] = await sql<
    { lsn: string | null; restart: string | null }[]
  >`select confirmed_flush_lsn::text as lsn, restart_lsn::text as restart from pg_replication_slots where slot_name = ${slot}`
  return row === undefined ? undefined : `${row.lsn}/${row.restart}`
}

/** Runs `body` with a fresh table (primary key) and names; cleans up whatever was made. */
async function withSource(body: (sql: postgres.Sql, names: { table: string; slot: string; publication: string }) => Promise<void>): Promise<void> {
  const sql = sqlClient()
  const names = { table: uniqueName('bad'), slot: uniqueName('s'), publication: uniqueName('p') }
  try {
    await sql.unsafe(`create table ${names.table} (id int primary key)`)
    await body(sql, names)
  } finally {
    await sql`select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = ${names.slot} and not active`.catch(() => {})
    await sql.unsafe(`drop publication if exists ${names.publication}; drop table if exists ${names.table}`)
    await sql.end()
  }
}

test('bad input: a slot of another output plugin (test_decoding) is refused; the slot stays where it was', async () => {
  await withSource(async (sql, { slot, publication }) => {
    await sql`select pg_create_logical_replication_slot(${slot}, 'test_decoding')`
    const before = await slotState(sql, slot)
    expect(
      await run(['run', '--slot', slot, '--publication', publication]),
      1,
      `replication slot "${slot}" uses the output plugin "test_decoding", not pgoutput: drop it or choose another slot name`,
    )
    assertEquals(await slotState(sql, slot), before, 'slot unchanged')
  })
})

test('bad input: a physical slot is refused; the slot stays where it was', async () => {
  await withSource(async (sql, { slot, publication }) => {
    await sql`select pg_create_physical_replication_slot(${slot})`
    const before = await slotState(sql, slot)
    expect(
      await run(['run', '--slot', slot, '--publication', publication]),
      1,
      `replication slot "${slot}" is a physical slot; a logical slot using pgoutput is needed`,
    )
    assertEquals(await slotState(sql, slot), before, 'slot unchanged')
  })
})

test('bad input: a slot of another database is refused; the slot stays where it was', async () => {
  await withSource(async (sql, { slot, publication }) => {
    const other = new URL(TEST_URL)
    other.pathname = '/postgres'
    const elsewhere = sqlClient(other.href)
    try {
      await elsewhere`select pg_create_logical_replication_slot(${slot}, 'pgoutput')`
    } finally {
      await elsewhere.end()
    }
    const before = await slotState(sql, slot)
    const database = new URL(TEST_URL).pathname.slice(1)
    expect(await run(['run', '--slot', slot, '--publication', publication]), 1, `replication slot "${slot}" belongs to database "postgres", not "${database}"`)
    assertEquals(await slotState(sql, slot), before, 'slot unchanged')
  })
})

test('bad input: a configured table that does not exist is named; no slot is created', async () => {
  await withSource(async (sql, { table, slot, publication }) => {
    expect(
      await run(['run', '--slot', slot, '--publication', publication, '--tables', `${table},${table}_nope`]),
      1,
      `configured table not found: public.${table}_nope`,
    )
    assertEquals(await slotState(sql, slot), undefined, 'no slot created')
  })
})

test('bad input: an existing publication without a configured table is an error naming the fix; no slot is created', async () => {
  await withSource(async (sql, { table, slot, publication }) => {
    await sql.unsafe(`create table ${table}_other (id int primary key); create publication ${publication} for table ${table}_other`)
    try {
      expect(
        await run(['run', '--slot', slot, '--publication', publication, '--tables', table]),
        1,
        `publication "${publication}" does not include the configured table public.${table}: add it with ALTER PUBLICATION … ADD TABLE ` +
          `public.${table}, or remove it from tables`,
      )
      assertEquals(await slotState(sql, slot), undefined, 'no slot created')
    } finally {
      await sql.unsafe(`drop publication if exists ${publication}; drop table if exists ${table}_other`)
    }
  })
})

test('bad input: published tables without a primary key or replica identity are named in a warning at startup', async () => {
  await withSource(async (sql, { table, slot, publication }) => {
    await sql.unsafe(`create table ${table}_nokey (a int); create table ${table}_none (id int primary key); alter table ${table}_none replica identity nothing`)
    const p = new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: TEST_URL }, [
      'run',
      '--slot',
      slot,
      '--publication',
      publication,
      '--tables',
      `${table},${table}_nokey,${table}_none`,
    ])
    try {
      await waitFor(
        () => {
          if (p.exitStatus) throw new Error(`exited (${describeExit(p.exitStatus)}): ${p.stderr}`)
          return /\binfo streaming\b/.test(p.stderr)
        },
        30_000,
        'streaming',
      )
      assert(
        p.stderr.includes(
          `warn published tables without a primary key or replica identity (PostgreSQL refuses UPDATE and DELETE on them while they are published; ` +
            `add a primary key or set REPLICA IDENTITY): public.${table}_nokey, public.${table}_none`,
        ),
        `stderr: ${p.stderr}`,
      )
      p.signal('SIGTERM')
      assertEquals((await p.waitForExit()).code, 0, 'clean stop')
      await dropSlot(sql, slot)
    } finally {
      if (!p.exitStatus) await p.kill()
      await sql.unsafe(`drop publication if exists ${publication}; drop table if exists ${table}_nokey, ${table}_none`)
    }
  })
})

test('bad input: configuration mistakes exit 2 with the exact problem and touch no database', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgtb-bad-'))
  const slot = uniqueName('s')
  const sql = sqlClient()
  try {
    writeFileSync(join(dir, 'array.json'), '[1, 2]')
    writeFileSync(join(dir, 'types.json'), JSON.stringify({ postgres: { slot: 5, tables: 't1' }, batch: { maxRecords: 'x' } }))
    expect(await run(['run', '--slot', slot, '--writer', 'rabbit']), 2, 'writer.type: expected "stdout", "file", "module", "kafka" or "kinesis", got "rabbit"')
    expect(
      await run(['run', '--config', join(dir, 'array.json')]),
      2,
      `config file ${join(dir, 'array.json')}: expected a JSON object ({ ... }) at the top level`,
    )
    const types = await run(['run', '--config', join(dir, 'types.json')])
    expect(types, 2, 'postgres.slot: expected 1 to 63 lower-case letters, digits or underscores, got 5')
    expect(types, 2, 'postgres.tables: expected a list of table names ([] means all tables), got "t1"')
    expect(types, 2, 'batch.maxRecords: expected an integer from 1 to 100000, got "x"')
    expect(await run(['run', '--config', dir]), 2, `config file ${dir}: cannot read it (it is a directory)`)
    expect(await run(['run', '--config', join(dir, 'missing.json')]), 2, `config file ${join(dir, 'missing.json')}: cannot read it (no such file)`)
    assertEquals(await slotState(sql, slot), undefined, 'no slot created')
  } finally {
    await sql.end()
    rmSync(dir, { recursive: true, force: true })
  }
})
