/**
 * Lag alarms of a running CLI: a warning once per crossing while the writer is blocked (bytes and
 * seconds) and a line when it catches up, the startup warning about an unlimited
 * max_slot_wal_keep_size, and the fatal slot_lost when the server invalidates the slot mid-run
 * (on a cluster of its own with a small max_slot_wal_keep_size).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { startFaultCluster } from './faults/cluster.ts'
import { invalidateSlot, SMALL_KEEP_SIZE } from './invalidate-slot.ts'
import { FixtureProcess, REPO_ROOT, sleep } from './process.ts'
import { dropSlot, requireServer, sqlClient, TEST_URL, uniqueName, waitFor, waitForStreaming } from './support.ts'

const CLI = `${REPO_ROOT}src/cli/entry.ts`
const GATED_WRITER = `${REPO_ROOT}tests/integration/fixtures/gated-writer.ts`
const SECONDS_WARNING = 'delivery is more than 1 s behind the commits'
const BYTES_WARNING = 'replication slot holds more than 1048576 bytes of WAL'
const UNLIMITED_WARNING = 'max_slot_wal_keep_size is -1 (unlimited)'

/** A CLI run whose writer waits while `gate` exists, reading the slot every second. */
function gatedRun(url: string, slot: string, table: string, gate: string, more: string[] = []): FixtureProcess {
  const args = ['run', '--slot', slot, '--publication', slot, '--tables', table, '--writer-module', GATED_WRITER, '--writer-option', `gate=${gate}`]
  return new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: url }, [...args, '--lag-poll-seconds', '1', ...more])
}

const SECONDS_BACK = 'delivery caught up with the commits'
const BYTES_BACK = 'replication slot WAL is back under the byte threshold'

const count = (text: string, part: string) => text.split(part).length - 1

/**
 * One alarm's lines in order, as 'warn' and 'back'. Each crossing warns once, so they alternate,
 * starting with a warning. (Other tests' WAL on the shared server can make even an idle slot's
 * retained WAL cross the byte threshold and fall back, so the byte alarm may cross more than once.)
 */
function crossings(text: string, warn: string, back: string): string[] {
  const events = text
    .split('\n')
    .filter((line) => line.includes(warn) || line.includes(back))
    .map((line) => (line.includes(warn) ? 'warn' : 'back'))
  events.forEach((event, i) => assert(event !== (events[i - 1] ?? 'back'), `alternating warnings and recoveries: ${events.join(', ')}\n${text}`))
  return events
}

test('lag alarms: a blocked writer warns once about seconds and bytes, and the run says when it caught up', async () => {
  const sql = sqlClient()
  const table = uniqueName('lag')
  const slot = uniqueName('s')
  const dir = await mkdtemp(`${tmpdir()}/pgtb-lag-`)
  const gate = `${dir}/gate`
  await writeFile(gate, '')
  const run = gatedRun(TEST_URL, slot, table, gate, ['--lag-warn-seconds', '1', '--lag-warn-bytes', '1048576'])
  try {
    await sql.unsafe(`create table ${table} (id int primary key, pad text)`)
    await waitForStreaming(sql, slot)
    await sql.unsafe(`insert into ${table} select g, repeat('x', 500) from generate_series(1, 5000) g`)
    await waitFor(() => run.stderr.includes(SECONDS_WARNING) && run.stderr.includes(BYTES_WARNING), 30_000, `both warnings; stderr: ${run.stderr}`)
    // Three more polls while still behind: no repeat.
    await sleep(3500)
    assertEquals(crossings(run.stderr, SECONDS_WARNING, SECONDS_BACK), ['warn'])
    assertEquals(crossings(run.stderr, BYTES_WARNING, BYTES_BACK).at(-1), 'warn')
    await rm(gate)
    await waitFor(() => run.stderr.includes(SECONDS_BACK), 30_000, `the catch-up line; stderr: ${run.stderr}`)
    assertEquals(crossings(run.stderr, SECONDS_WARNING, SECONDS_BACK), ['warn', 'back'])

    // The server's setting decides the startup warning: shown exactly when it is unlimited (PostgreSQL 12 has no such setting).
    const [setting] = await sql<{ value: string }[]>`select setting as value from pg_settings where name = 'max_slot_wal_keep_size'`
    assertEquals(count(run.stderr, UNLIMITED_WARNING), setting?.value === '-1' ? 1 : 0, run.stderr)
  } finally {
    await rm(dir, { recursive: true, force: true })
    run.signal('SIGTERM')
    await run.waitForExit(30_000).catch(() => run.kill())
    await dropSlot(sql, slot).catch(() => {})
    await sql.unsafe(`drop publication if exists ${slot}; drop table if exists ${table}`)
    await sql.end()
  }
})

test('lag alarms: a slot invalidated while streaming stops the run with slot_lost and the re-snapshot path', async () => {
  await requireServer(13, 'max_slot_wal_keep_size')
  const cluster = await startFaultCluster('pg-lag-lost', SMALL_KEEP_SIZE)
  const sql = sqlClient(cluster.url)
  const slot = uniqueName('s')
  const dir = await mkdtemp(`${tmpdir()}/pgtb-lost-`)
  const gate = `${dir}/gate`
  await writeFile(gate, '')
  let run: FixtureProcess | undefined
  try {
    await sql.unsafe('create table t (id int primary key)')
    run = gatedRun(cluster.url, slot, 't', gate)
    await waitForStreaming(sql, slot)
    // Undelivered (the writer waits), so the slot's restart_lsn stays put while WAL moves on.
    await sql.unsafe('insert into t values (1)')
    await invalidateSlot(sql, slot)
    await sleep(2500)
    await rm(gate)
    const exit = await run.waitForExit(60_000)
    assertEquals(exit.code, 1, `exit code; stderr: ${run.stderr}`)
    assert(run.stderr.includes('slot_lost'), run.stderr)
    assert(run.stderr.includes(`replication slot "${slot}" was lost while streaming`), run.stderr)
    assert(run.stderr.includes('--snapshot-mode when_needed'), run.stderr)
    assert(!run.stderr.includes('reconnecting'), `a lost slot is not reconnected to: ${run.stderr}`)
    assertEquals(count(run.stderr, UNLIMITED_WARNING), 0, 'a limited max_slot_wal_keep_size gives no startup warning')
  } finally {
    await rm(dir, { recursive: true, force: true })
    if (run && !run.exitStatus) await run.kill()
    await sql.end()
    cluster.stop()
  }
})
