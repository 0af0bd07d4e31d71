/**
 * `pg-to-brokers status` as a script runs it: an active slot, an idle one, a missing one and an
 * invalidated one (on a cluster of its own with a small max_slot_wal_keep_size), the table and the
 * JSON object, exit 0 / 1 / 2, and never a password in the output.
 */
import type postgres from 'postgres'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { cancelSnapshots, requestSnapshots } from '../../src/snapshot/requests.ts'
import { startFaultCluster } from './faults/cluster.ts'
import { invalidateSlot, SMALL_KEEP_SIZE } from './invalidate-slot.ts'
import { FixtureProcess, REPO_ROOT } from './process.ts'
import { dropSlot, requireServer, serverVersion, sqlClient, TEST_URL, uniqueName, waitForStreaming } from './support.ts'

const CLI = `${REPO_ROOT}src/cli/entry.ts`
const PASSWORD = new URL(TEST_URL).password

interface StatusJson {
  slot: string
  exists: boolean
  ok: boolean
  problems: string[]
  client: { pid: number; address: string | null; applicationName: string | null } | null
  walStatus: string | null
  safeWalSizeBytes: number | null
  lagBytes: number | null
  retainedBytes: number | null
  confirmedFlushLsn: string | null
  publishedTables: string[]
  tablesWithoutReplicaIdentity: string[]
  lastConfirmedAt: string | null
  snapshots: { id: string; table: string; status: string }[]
}

/** Runs `status` to its exit; returns the exit code and what it printed, checking that no password leaked. */
async function status(args: string[], url = TEST_URL): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: url }, ['status', ...args])
  const exit = await run.waitForExit(60_000)
  if (PASSWORD) assert(!(run.stdout + run.stderr).includes(PASSWORD), 'the password appeared in the output')
  return { code: exit.code, stdout: run.stdout, stderr: run.stderr }
}

async function statusJson(args: string[], url = TEST_URL): Promise<{ code: number | null; json: StatusJson }> {
  const { code, stdout, stderr } = await status([...args, '--json'], url)
  const lines = stdout.trim().split('\n')
  assertEquals(lines.length, 1, `one JSON line (stderr: ${stderr})`)
  return { code, json: JSON.parse(lines[0]!) as StatusJson }
}

/** The value column of a row of the table. */
function row(table: string, name: string): string {
  const line = table.split('\n').find((l) => l.startsWith(`${name}  `))
  assert(line !== undefined, `the table has a "${name}" row:\n${table}`)
  return line.slice(name.length).trim()
}

async function lagNow(sql: postgres.Sql, slot: string): Promise<number> {
  const [r] = await sql<
    { lag: string }[]
  >`select pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text as lag from pg_replication_slots where slot_name = ${slot}`
  return Number(r!.lag)
}

test('status: an idle slot is OK (exit 0) with its lag, retained WAL and tables; a published table without a key is a problem (exit 1)', async () => {
  const sql = sqlClient()
  const table = uniqueName('st')
  const keyless = uniqueName('st_nokey')
  const slot = uniqueName('s')
  try {
    await sql.unsafe(`create table ${table} (id int primary key); create table ${keyless} (note text)`)
    await sql.unsafe(`create publication ${slot} for table ${table}`)
    await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput')`
    await sql.unsafe(`insert into ${table} select generate_series(1, 1000)`)
    const before = await lagNow(sql, slot)
    const { code, json } = await statusJson(['--slot', slot, '--publication', slot])
    const after = await lagNow(sql, slot)
    assertEquals(code, 0, `exit code; problems: ${json.problems.join('; ')}`)
    assertEquals([json.exists, json.ok, json.client], [true, true, null])
    // wal_status exists from PostgreSQL 13 on; before, the status says n/a.
    const modern = (await serverVersion()) >= 130000
    assertEquals(json.walStatus, modern ? 'reserved' : null)
    assert(json.lagBytes! >= before && json.lagBytes! <= after, `lag ${json.lagBytes} between ${before} and ${after}`)
    assert(json.retainedBytes! >= json.lagBytes!, 'restart_lsn is at or before confirmed_flush_lsn')
    assertEquals(json.publishedTables, [`public.${table}`])

    const text = await status(['--slot', slot, '--publication', slot])
    assertEquals(text.code, 0, text.stderr)
    assertEquals(row(text.stdout, 'exists'), 'yes')
    assertEquals(row(text.stdout, 'active'), 'no (no process is streaming from it)')
    assertEquals(row(text.stdout, 'wal_status'), modern ? 'reserved' : 'n/a (PostgreSQL < 13)')
    assert(row(text.stdout, 'publication').includes(`public.${table}`), text.stdout)
    assertEquals(row(text.stdout, 'status'), 'OK')

    // A lag threshold below the slot's lag is a problem for scripts, too.
    const lagging = await statusJson(['--slot', slot, '--publication', slot, '--lag-warn-bytes', '1'])
    assertEquals(lagging.code, 1)
    assert(
      lagging.json.problems.some((p) => p.includes('above lag.warnBytes (1)')),
      lagging.json.problems.join('; '),
    )

    // A requested snapshot (PostgreSQL 14 and later take them while streaming) is listed until it is done.
    if ((await serverVersion()) >= 140000) {
      const [request] = await requestSnapshots({ url: TEST_URL, slot, publication: slot, tables: [table] })
      const listed = await statusJson(['--slot', slot, '--publication', slot])
      assertEquals(
        listed.json.snapshots.map((s) => [s.id, s.table, s.status]),
        [[request!.id, `public.${table}`, 'requested']],
      )
      const shown = await status(['--slot', slot, '--publication', slot])
      assert(row(shown.stdout, 'snapshots in progress').startsWith(`public.${table} (incremental, requested, 0`), shown.stdout)
      await cancelSnapshots({ url: TEST_URL, slot })
    }

    await sql.unsafe(`alter publication ${slot} add table ${keyless}`)
    const withKeyless = await statusJson(['--slot', slot, '--publication', slot])
    assertEquals(withKeyless.code, 1)
    assertEquals(withKeyless.json.tablesWithoutReplicaIdentity, [`public.${keyless}`])
  } finally {
    await dropSlot(sql, slot).catch(() => {})
    await sql.unsafe(`drop publication if exists ${slot}; drop table if exists ${table}, ${keyless}`)
    await sql.end()
  }
})

test('status: an active slot names the PID, address and application of the process streaming from it', async () => {
  const sql = sqlClient()
  const table = uniqueName('st')
  const slot = uniqueName('s')
  const run = new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: TEST_URL }, ['run', '--slot', slot, '--publication', slot, '--tables', table])
  try {
    await sql.unsafe(`create table ${table} (id int primary key)`)
    await waitForStreaming(sql, slot)
    const [active] = await sql<{ pid: number }[]>`select active_pid as pid from pg_replication_slots where slot_name = ${slot}`
    const { code, json } = await statusJson(['--slot', slot, '--publication', slot])
    assertEquals(code, 0, `exit code; problems: ${json.problems.join('; ')}`)
    assertEquals(json.client?.pid, active!.pid)
    assertEquals(json.client?.address, '127.0.0.1')
    assertEquals(json.client?.applicationName, 'pg_to_brokers')
    assert(json.lastConfirmedAt !== null, 'the run recorded the slot')
    const text = await status(['--slot', slot, '--publication', slot])
    assertEquals(row(text.stdout, 'active'), `yes: PID ${active!.pid} from 127.0.0.1, application_name pg_to_brokers`)
  } finally {
    run.signal('SIGTERM')
    await run.waitForExit(30_000).catch(() => run.kill())
    await dropSlot(sql, slot).catch(() => {})
    await sql.unsafe(`drop publication if exists ${slot}; drop table if exists ${table}`)
    await sql.end()
  }
})

test('status: a missing slot exits 1; bad arguments exit 2', async () => {
  const slot = uniqueName('s')
  const { code, json } = await statusJson(['--slot', slot])
  assertEquals([code, json.exists, json.ok], [1, false, false])
  assert(json.problems.includes(`replication slot "${slot}" does not exist`), json.problems.join('; '))
  const text = await status(['--slot', slot])
  assertEquals(text.code, 1)
  assertEquals(row(text.stdout, 'exists'), 'no')
  assert(row(text.stdout, 'status').startsWith('PROBLEM: '), text.stdout)

  // A server that cannot be reached is a failure (1), told without the password.
  const url = new URL(TEST_URL)
  url.port = '1'
  const unreachable = await status(['--slot', slot], url.href)
  assertEquals(unreachable.code, 1, unreachable.stderr)
  assert(unreachable.stderr.includes('pg_unreachable'), unreachable.stderr)

  for (const args of [
    ['--lag-warn-bytes', '0'],
    ['--lag-warn-seconds', 'soon'],
    ['--lag-poll-seconds', '0'],
    ['--where', 'x'],
  ]) {
    const bad = await status(['--slot', slot, ...args])
    assertEquals(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`)
    assert(bad.stderr.includes('invalid configuration'), bad.stderr)
  }
  const run = new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: TEST_URL }, ['run', '--slot', slot, '--json'])
  assertEquals((await run.waitForExit(30_000)).code, 2)
  assert(run.stderr.includes('--json belongs to the status command'), run.stderr)
})

test('status: a slot the server invalidated (wal_status = lost) exits 1 and names the re-snapshot', async () => {
  await requireServer(13, 'max_slot_wal_keep_size')
  // A cluster of its own: the shared one must keep its settings.
  const cluster = await startFaultCluster('pg-status-lost', SMALL_KEEP_SIZE)
  const sql = sqlClient(cluster.url)
  const slot = uniqueName('s')
  try {
    await sql.unsafe('create table t (id int primary key); create publication p for table t')
    await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput')`
    const fine = await statusJson(['--slot', slot, '--publication', 'p'], cluster.url)
    assertEquals(fine.code, 0, fine.json.problems.join('; '))
    assert(fine.json.safeWalSizeBytes !== null, 'a limited keep size gives a safe_wal_size')
    await invalidateSlot(sql, slot)
    const { code, json } = await statusJson(['--slot', slot, '--publication', 'p'], cluster.url)
    assertEquals([code, json.exists, json.walStatus], [1, true, 'lost'])
    assert(
      json.problems.some((p) => p.includes('wal_status = lost') && p.includes('--snapshot-mode when_needed')),
      json.problems.join('; '),
    )
    const text = await status(['--slot', slot, '--publication', 'p'], cluster.url)
    assertEquals(text.code, 1)
    assertEquals(row(text.stdout, 'wal_status'), 'lost')
    assertEquals(row(text.stdout, 'safe_wal_size'), 'none: the slot is lost')
  } finally {
    await sql.end()
    cluster.stop()
  }
})
