// Connection strings as libpq reads them, against the real server: socket forms, PG* variables, the real cause of a refused login.
import { test } from '../harness.ts'
import { assert, assertEquals, assertRejects } from '../assert.ts'
import { Catalog } from '../../src/pg/catalog.ts'
import { ReplicationConnection } from '../../src/pg/replication.ts'
import { PgToBrokersError } from '../../src/errors.ts'
import { connectionSettings, openConnection } from '../../src/pg/connect.ts'
import { describeExit, FixtureProcess, REPO_ROOT } from './process.ts'
import { dropSlot, sqlClient, TEST_URL, uniqueName, waitFor } from './support.ts'

const CLI = `${REPO_ROOT}src/cli/entry.ts`
const SOCKET_DIR = globalThis.process?.env.PG_TO_BROKERS_TEST_SOCKET_DIR ?? `${REPO_ROOT}.cache/pg/sock`
const PORT = new URL(TEST_URL).port
const PASSWORD = decodeURIComponent(new URL(TEST_URL).password)

interface Session {
  readonly backend: string
  readonly overSocket: boolean
  readonly user: string
  readonly database: string
}

/** The sessions named `name`, as the server sees them: catalog and walsender, socket or TCP. */
async function sessions(name: string): Promise<Session[]> {
  const sql = sqlClient()
  try {
    const rows = await sql<{ backend_type: string; client_addr: string | null; usename: string; datname: string }[]>`
      select backend_type, client_addr, usename, datname from pg_stat_activity where application_name = ${name} order by backend_type`
    return rows.map((r) => ({ backend: r.backend_type, overSocket: r.client_addr === null, user: r.usename, database: r.datname }))
  } finally {
    await sql.end()
  }
}

/** Opens the catalog and the replication connection with `url` plus a unique application_name, and reports what the server saw. */
async function connectBoth(url: string): Promise<Session[]> {
  const name = uniqueName('conninfo')
  const named = url.startsWith('postgres') ? `${url}${url.includes('?') ? '&' : '?'}application_name=${name}` : `${url} application_name=${name}`
  const catalog = await Catalog.open(named, 10_000)
  try {
    const replication = await ReplicationConnection.open(named, 10_000)
    try {
      return await sessions(name)
    } finally {
      await replication.close()
    }
  } finally {
    await catalog.close()
  }
}

const BOTH_OVER_SOCKET: Session[] = [
  { backend: 'client backend', overSocket: true, user: 'pgtb', database: 'pgtb' },
  { backend: 'walsender', overSocket: true, user: 'pgtb', database: 'pgtb' },
]

test('conninfo: the unix socket forms libpq accepts connect both connections through the socket', async () => {
  const encodedDir = encodeURIComponent(SOCKET_DIR)
  const forms = [
    `postgres:///pgtb?host=${SOCKET_DIR}&port=${PORT}&user=pgtb`,
    `postgres://pgtb@/pgtb?host=${SOCKET_DIR}&port=${PORT}`,
    `postgres://pgtb@${encodedDir}:${PORT}/pgtb`,
    `postgresql://${encodedDir}:${PORT}/pgtb?user=pgtb`,
  ]
  for (const url of forms) assertEquals(await connectBoth(url), BOTH_OVER_SOCKET, url)
  // key=value settings, with a quoted value.
  assertEquals(await connectBoth(`host='${SOCKET_DIR}' port=${PORT} user=pgtb dbname=pgtb`), BOTH_OVER_SOCKET, 'key=value')
})

test('conninfo: over TCP, a password holding @ : / ? % and spaces works percent-encoded; connect_timeout and options are accepted', async () => {
  const role = uniqueName('pw')
  const password = "p@ss:w/rd?&=%x y'"
  const sql = sqlClient()
  try {
    await sql.unsafe(`create role ${role} login replication password '${password.replaceAll("'", "''")}'`)
    const url = `postgres://${role}:${encodeURIComponent(password)}@127.0.0.1:${PORT}/pgtb?connect_timeout=5&options=-c%20statement_timeout%3D5s`
    assertEquals(await connectBoth(url), [
      { backend: 'client backend', overSocket: false, user: role, database: 'pgtb' },
      { backend: 'walsender', overSocket: false, user: role, database: 'pgtb' },
    ])
    const session = await openConnection(connectionSettings(url), 10_000, 'pgtb_conninfo_test')
    try {
      const [row] = await session<{ statement_timeout: string }[]>`show statement_timeout`
      assertEquals(row?.statement_timeout, '5s', 'options=-c reaches the server')
    } finally {
      await session.end()
    }
  } finally {
    await sql.unsafe(`drop role if exists ${role}`)
    await sql.end()
  }
})

test('conninfo: a refused login names its real cause: unknown role, wrong user or password, unknown database', async () => {
  const role = uniqueName('norole')
  const viaSocket = `postgres:///pgtb?host=${SOCKET_DIR}&port=${PORT}&user=${role}`
  const missing = await assertRejects(
    () => Catalog.open(viaSocket, 10_000),
    `role "${role}" does not exist at ${SOCKET_DIR}/.s.PGSQL.${PORT}: check the user name`,
  )
  assertEquals((missing as PgToBrokersError).code, 'pg_no_role')
  await assertRejects(() => ReplicationConnection.open(viaSocket, 10_000), `role "${role}" does not exist`)
  // Over TCP with scram-sha-256 the server answers an unknown role like a wrong password, on purpose.
  await assertRejects(
    () => Catalog.open(`postgres://${role}:whatever@127.0.0.1:${PORT}/pgtb`, 10_000),
    `password authentication failed for user "${role}" at 127.0.0.1:${PORT}: check the user name and the password`,
  )
  const database = uniqueName('nodb')
  const noDatabase = await assertRejects(
    () => Catalog.open(`postgres:///${database}?host=${SOCKET_DIR}&port=${PORT}&user=pgtb`, 10_000),
    `database "${database}" does not exist at`,
  )
  assertEquals((noDatabase as PgToBrokersError).code, 'pg_no_database')
  await assertRejects(
    () => Catalog.open(`postgres:///pgtb?host=${encodeURIComponent('/nonexistent-socket-dir')}&port=${PORT}`, 10_000),
    `cannot connect to PostgreSQL at /nonexistent-socket-dir/.s.PGSQL.${PORT}: no unix socket there`,
  )
})

test('conninfo: with postgres:// alone, PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE and PGAPPNAME say where to stream from', async () => {
  const slot = uniqueName('s')
  const name = uniqueName('envapp')
  const env = {
    PG_TO_BROKERS_POSTGRES_URL: 'postgres://',
    PGHOST: '127.0.0.1',
    PGPORT: PORT,
    PGUSER: 'pgtb',
    PGPASSWORD: PASSWORD,
    PGDATABASE: 'pgtb',
    PGAPPNAME: name,
  }
  const run = new FixtureProcess(CLI, env, ['run', '--slot', slot, '--publication', slot])
  const sql = sqlClient()
  try {
    await waitFor(
      () => {
        if (run.exitStatus) throw new Error(`exited (${describeExit(run.exitStatus)}): ${run.stderr}`)
        return /\binfo streaming\b/.test(run.stderr)
      },
      30_000,
      'streaming with settings from the environment',
    )
    // Every session (catalog, replication, snapshot requests) connects as the environment says.
    const seen = new Set((await sessions(name)).map((s) => JSON.stringify([s.backend, s.overSocket, s.user, s.database])))
    assertEquals([...seen].sort(), [JSON.stringify(['client backend', false, 'pgtb', 'pgtb']), JSON.stringify(['walsender', false, 'pgtb', 'pgtb'])])
    run.signal('SIGTERM')
    assertEquals((await run.waitForExit()).code, 0, `clean stop (stderr: ${run.stderr})`)
    assert(!run.stderr.includes(PASSWORD), 'the password from PGPASSWORD appeared in the output')
  } finally {
    if (!run.exitStatus) await run.kill()
    await dropSlot(sql, slot).catch(() => {})
    await sql.unsafe(`drop publication if exists ${slot}`)
    await sql.end()
  }
})

test('conninfo: a parameter libpq would refuse is a configuration error (exit 2) that does not show the URL', async () => {
  const url = `postgres://pgtb:${encodeURIComponent(PASSWORD)}@127.0.0.1:${PORT}/pgtb?statement_timeout=5s`
  const run = new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: url }, ['run', '--slot', uniqueName('s')])
  const status = await run.waitForExit(30_000)
  assertEquals(status.code, 2, `exit code (stderr: ${run.stderr.trim()})`)
  assert(run.stderr.includes('postgres.url: unknown URL query parameter "statement_timeout"'), run.stderr)
  assert(run.stderr.includes('options=-c%20statement_timeout%3D5s'), run.stderr)
  assert(!run.stderr.includes(PASSWORD), 'the password appeared in the output')
})
