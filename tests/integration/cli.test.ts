// The CLI as a user runs it: a clean stream and stop, and each bad input's exact message and exit code.
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { FixtureProcess, REPO_ROOT } from './process.ts'
import { dropSlot, sqlClient, TEST_URL, uniqueName, waitFor, waitForStreaming } from './support.ts'

const CLI = `${REPO_ROOT}src/cli/entry.ts`
const PASSWORD = new URL(TEST_URL).password

function cli(args: string[], env: Record<string, string> = {}): FixtureProcess {
  return new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: TEST_URL, ...env }, args)
}

function urlWith(changes: { user?: string; password?: string; port?: string }): string {
  const url = new URL(TEST_URL)
  if (changes.user !== undefined) url.username = changes.user
  if (changes.password !== undefined) url.password = changes.password
  if (changes.port !== undefined) url.port = changes.port
  return url.href
}

/** Runs the CLI to its exit and checks the exit code, the message, and that no secret leaked. */
async function expectFailure(args: string[], env: Record<string, string>, code: number, message: string, secrets: string[] = [PASSWORD]): Promise<void> {
  const run = cli(args, env)
  const status = await run.waitForExit(30_000)
  assertEquals(status.code, code, `exit code (stderr: ${run.stderr.trim()})`)
  assert(run.stderr.includes(message), `stderr ${JSON.stringify(run.stderr.trim())} should contain ${JSON.stringify(message)}`)
  for (const secret of secrets) assert(!(run.stderr + run.stdout).includes(secret), 'a secret appeared in the output')
}

test('cli: streams to stdout and stops cleanly on SIGTERM with exit 0', async () => {
  const sql = sqlClient()
  const table = uniqueName('cli')
  const slot = uniqueName('s')
  try {
    await sql.unsafe(`create table ${table} (id int primary key, name text)`)
    const run = cli(['run', '--slot', slot, '--publication', slot, '--tables', table])
    await waitForStreaming(sql, slot)
    await sql.unsafe(`insert into ${table} values (1, 'one'), (2, 'two')`)
    await run.waitForLine(/"values":\[2,"two"\]/)
    run.signal('SIGTERM')
    const status = await run.waitForExit()
    assertEquals(status.code, 0, `exit code (stderr: ${run.stderr})`)
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { values: unknown[]; table_name: string })
    assertEquals(
      lines.map((l) => l.values),
      [
        [1, 'one'],
        [2, 'two'],
      ],
    )
    assert(!run.stderr.includes(PASSWORD), 'the password appeared in the logs')
    await dropSlot(sql, slot)
  } finally {
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${slot}`)
    await sql.end()
  }
})

test('cli: wrong password is a specific error, exit 1, password never shown', async () => {
  const wrong = 'not-the-password-7781'
  await expectFailure(
    ['run', '--slot', uniqueName('s')],
    { PG_TO_BROKERS_POSTGRES_URL: urlWith({ password: wrong }) },
    1,
    `password authentication failed for user "pgtb" at ${new URL(TEST_URL).host}`,
    [wrong, PASSWORD],
  )
})

test('cli: unreachable host is a specific error, exit 1', async () => {
  await expectFailure(
    ['run', '--slot', uniqueName('s')],
    { PG_TO_BROKERS_POSTGRES_URL: urlWith({ port: '1' }) },
    1,
    'cannot connect to PostgreSQL at 127.0.0.1:1: connection refused',
  )
})

test('cli: a role without REPLICATION is told how to fix it', async () => {
  const url = urlWith({ user: 'pgtb_norepl', password: 'norepl-secret' })
  await expectFailure(
    ['run', '--slot', uniqueName('s')],
    { PG_TO_BROKERS_POSTGRES_URL: url },
    1,
    'role "pgtb_norepl" may not start logical replication: grant it with ALTER ROLE "pgtb_norepl" WITH REPLICATION',
    ['norepl-secret'],
  )
})

test('cli: a missing publication is reported when creating it is off', async () => {
  const publication = uniqueName('nopub')
  await expectFailure(
    ['run', '--slot', uniqueName('s'), '--publication', publication, '--no-create-publication'],
    {},
    1,
    `publication "${publication}" does not exist`,
  )
})

test('cli: invalid configuration exits 2 naming the field', async () => {
  await expectFailure(['run', '--slot', 'Bad-Slot', '--batch-size', 'many'], {}, 2, 'batch.maxRecords')
  await expectFailure(['run', '--slot', 'Bad-Slot'], {}, 2, 'postgres.slot')
})

test('cli: a slot in use by another process is a specific error; the first stream keeps going', async () => {
  const sql = sqlClient()
  const slot = uniqueName('s')
  const first = cli(['run', '--slot', slot, '--publication', slot])
  try {
    await waitForStreaming(sql, slot)
    await expectFailure(['run', '--slot', slot, '--publication', slot], {}, 1, `replication slot "${slot}" is in use by another process (PID `)
    assertEquals(first.exitStatus, undefined, 'the first stream is still running')
  } finally {
    first.signal('SIGTERM')
    await first.waitForExit()
    await dropSlot(sql, slot)
    await sql.unsafe(`drop publication if exists ${slot}`)
    await sql.end()
  }
})

test('cli: a failing writer exits 1 and the slot never advances past undelivered changes', async () => {
  const sql = sqlClient()
  const table = uniqueName('fail')
  const slot = uniqueName('s')
  try {
    await sql.unsafe(`create table ${table} (id int primary key)`)
    // Publication first: pgoutput looks it up as of each decoded change, so it must predate the slot.
    await sql.unsafe(`create publication ${slot} for table ${table}`)
    await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput')`
    await sql.unsafe(`insert into ${table} values (1)`)
    const [afterInsert] = await sql<{ lsn: string }[]>`select pg_current_wal_insert_lsn()::text as lsn`
    const run = cli([
      'run',
      '--slot',
      slot,
      '--publication',
      slot,
      '--writer-module',
      `${REPO_ROOT}tests/integration/fixtures/failing-writer.ts`,
      '--writer-option',
      'message=broker said no',
    ])
    const status = await run.waitForExit(30_000)
    assertEquals(status.code, 1, `exit code (stderr: ${run.stderr})`)
    assert(run.stderr.includes('broker said no'), `stderr: ${run.stderr}`)
    // The slot may confirm WAL up to the insert's own record (a keepalive while the walsender waits
    // for the commit), never the end of the insert's commit.
    const [after] = await sql<
      { ok: boolean }[]
    >`select confirmed_flush_lsn < ${afterInsert!.lsn}::pg_lsn as ok from pg_replication_slots where slot_name = ${slot}`
    assertEquals(after!.ok, true, 'confirmed_flush_lsn stays before the undelivered insert')
    await dropSlot(sql, slot)
  } finally {
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${slot}`)
    await sql.end()
  }
})

test('cli: wal_level below logical names the setting and the fix', async () => {
  const { startReplicaLevelServer } = await import('./replica-level-server.ts')
  const server = await startReplicaLevelServer()
  try {
    await expectFailure(
      ['run', '--slot', 'never_created'],
      { PG_TO_BROKERS_POSTGRES_URL: server.url },
      1,
      'PostgreSQL has wal_level=replica, but logical decoding needs wal_level=logical: run ALTER SYSTEM SET wal_level = logical and restart the server',
    )
  } finally {
    server.stop()
  }
})
