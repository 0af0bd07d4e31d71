// The CLI's metrics listener, scraped and parsed strictly: counters move with a known workload, lag
// rises while the writer is blocked and falls after, /readyz follows the replication connection, and
// a listen address that cannot be used is a configuration error (exit 2).
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import type postgres from 'postgres'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { parseExposition, valueOf, type Exposition } from '../prometheus-text.ts'
import { PgProxy } from './faults/pg-proxy.ts'
import { FixtureProcess, REPO_ROOT } from './process.ts'
import { dropSlot, requireServer, sqlClient, TEST_URL, uniqueName, waitFor, waitForStreaming } from './support.ts'

const CLI = `${REPO_ROOT}src/cli/entry.ts`
const GATED_WRITER = `${REPO_ROOT}tests/integration/fixtures/gated-writer.ts`

/** A port nothing listens on now (the kernel's choice, released at once). */
async function freePort(): Promise<number> {
  const server = await listenOn(0)
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve(server))
  })
}

interface Scraper {
  metrics(): Promise<Exposition>
  get(path: string): Promise<{ status: number; body: string }>
}

function scraper(port: number): Scraper {
  const get = async (path: string) => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`)
    return { status: response.status, body: await response.text() }
  }
  return {
    get,
    metrics: async () => {
      const { status, body } = await get('/metrics')
      assertEquals(status, 200, `/metrics: ${body}`)
      return parseExposition(body)
    },
  }
}

/** Runs the CLI for `table` with the listener on a free port; resolves once /readyz answers 200. */
async function startCli(sql: postgres.Sql, url: string, slot: string, table: string, more: string[] = []): Promise<{ run: FixtureProcess; scrape: Scraper }> {
  const port = await freePort()
  const args = ['run', '--slot', slot, '--publication', slot, '--tables', table, '--metrics-listen', `127.0.0.1:${port}`, ...more]
  const run = new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: url }, args)
  const scrape = scraper(port)
  await waitForStreaming(sql, slot, 30_000)
  await waitFor(async () => (await scrape.get('/readyz').catch(() => ({ status: 0 }))).status === 200, 20_000, '/readyz 200')
  return { run, scrape }
}

async function stop(run: FixtureProcess): Promise<void> {
  run.signal('SIGTERM')
  const status = await run.waitForExit(30_000)
  assertEquals(status.code, 0, `exit code (stderr: ${run.stderr})`)
}

function lsnNumber(text: string): number {
  const [high, low] = text.split('/')
  return parseInt(high!, 16) * 2 ** 32 + parseInt(low!, 16)
}

async function currentLsn(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`
  return lsnNumber(row!.lsn)
}

const m = (exposition: Exposition, name: string, labels: Record<string, string> = {}) => valueOf(exposition, `pg_to_brokers_${name}`, labels) ?? 0

/** Also after a failure: removes the test's directory, then its slot, table and publication (named after the slot). */
async function cleanUp(sql: postgres.Sql, slot: string, table: string, dir?: string): Promise<void> {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  await dropSlot(sql, slot).catch(() => {})
  await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${slot}`)
  await sql.end()
}

test('metrics: a known workload moves rows by table and operation and transactions exactly; LSNs advance; /healthz is 200', async () => {
  const sql = sqlClient()
  const table = uniqueName('metrics')
  const slot = uniqueName('s')
  await sql.unsafe(`create table ${table} (id int primary key, note text)`)
  try {
    const { run, scrape } = await startCli(sql, TEST_URL, slot, table, ['--lag-poll-seconds', '1'])
    const before = await scrape.metrics()
    const startLsn = await currentLsn(sql)
    // 25 inserts in 4 transactions, then 3 updates and 2 deletes in a fifth.
    for (const [from, to] of [
      [1, 7],
      [8, 13],
      [14, 19],
      [20, 25],
    ] as const) {
      await sql.unsafe(`insert into ${table} select g, 'n' from generate_series(${from}, ${to}) g`)
    }
    await sql.begin(async (tx) => {
      await tx.unsafe(`update ${table} set note = 'u' where id <= 3`)
      await tx.unsafe(`delete from ${table} where id > 23`)
    })
    const endLsn = await currentLsn(sql)
    const key = { table: `public.${table}` }
    await waitFor(async () => m(await scrape.metrics(), 'flushed_lsn') >= endLsn, 20_000, 'flushed_lsn past the workload')
    await waitFor(async () => m(await scrape.metrics(), 'confirmed_lsn') >= endLsn, 20_000, 'confirmed_lsn past the workload')
    const after = await scrape.metrics()
    assertEquals(m(after, 'rows_total', { ...key, operation: 'insert' }), 25)
    assertEquals(m(after, 'rows_total', { ...key, operation: 'update' }), 3)
    assertEquals(m(after, 'rows_total', { ...key, operation: 'delete' }), 2)
    assertEquals(m(after, 'transactions_total') - m(before, 'transactions_total'), 5)
    assertEquals(m(after, 'batch_records_sum') - m(before, 'batch_records_sum'), 30, 'every row went out in a batch')
    assert(m(after, 'batches_total') > m(before, 'batches_total'), 'batches counted')
    assert(m(after, 'publish_seconds_count') === m(after, 'batches_total'), 'one latency per batch')
    assert(m(before, 'received_lsn') <= startLsn, 'received_lsn before the workload is not past it')
    assert(m(after, 'received_lsn') >= endLsn, `received_lsn ${m(after, 'received_lsn')} reached ${endLsn}`)
    assert(m(after, 'flushed_lsn') > m(before, 'flushed_lsn') && m(after, 'confirmed_lsn') > m(before, 'confirmed_lsn'), 'flushed and confirmed advanced')
    assertEquals(m(after, 'lag_seconds'), 0, 'nothing waits')
    assert((valueOf(after, 'process_resident_memory_bytes') ?? 0) > 1_000_000, 'resident memory reported')
    const health = await scrape.get('/healthz')
    assertEquals([health.status, health.body], [200, 'ok\n'])
    assertEquals((await scrape.get('/nothing')).status, 404)
    // The slot monitor's readings (every second here) become the slot gauges.
    const labels = { slot }
    await waitFor(async () => m(await scrape.metrics(), 'slot_confirmed_flush_lsn', labels) >= endLsn, 20_000, 'a slot reading past the workload')
    const slotMetrics = await scrape.metrics()
    assert(m(slotMetrics, 'slot_wal_lsn', labels) >= endLsn, 'slot_wal_lsn')
    assertEquals(m(slotMetrics, 'slot_wal_status', { slot, status: 'reserved' }) + m(slotMetrics, 'slot_wal_status', { slot, status: 'extended' }), 1)
    assert(m(slotMetrics, 'slot_sample_timestamp_seconds', labels) > Date.now() / 1000 - 60, 'a recent reading')
    await stop(run)
  } finally {
    await cleanUp(sql, slot, table)
  }
})

test('metrics: lag in seconds and bytes rises while the writer is blocked and falls once it resumes', async () => {
  const sql = sqlClient()
  const table = uniqueName('metrics_lag')
  const slot = uniqueName('s')
  const dir = await mkdtemp(`${tmpdir()}/pgtb-metrics-`)
  const gate = `${dir}/gate`
  await sql.unsafe(`create table ${table} (id int primary key, note text)`)
  try {
    const { run, scrape } = await startCli(sql, TEST_URL, slot, table, ['--writer-module', GATED_WRITER, '--writer-option', `gate=${gate}`])
    assertEquals(m(await scrape.metrics(), 'lag_seconds'), 0)
    await writeFile(gate, '')
    await sql.unsafe(`insert into ${table} select g, 'blocked' from generate_series(1, 10) g`)
    await waitFor(async () => m(await scrape.metrics(), 'lag_seconds') > 1, 20_000, 'lag_seconds above 1 while blocked')
    const first = await scrape.metrics()
    await new Promise((resolve) => setTimeout(resolve, 1200))
    const second = await scrape.metrics()
    assert(m(second, 'lag_seconds') > m(first, 'lag_seconds'), `lag grows: ${m(first, 'lag_seconds')} then ${m(second, 'lag_seconds')}`)
    const blockedBytes = m(second, 'lag_bytes')
    assert(blockedBytes > 0, 'lag_bytes above 0 while blocked')
    assert(m(second, 'confirmed_lsn') < m(second, 'server_wal_end_lsn'), 'confirmed stays behind the WAL end')
    await rm(gate)
    await waitFor(async () => m(await scrape.metrics(), 'lag_seconds') === 0, 20_000, 'lag_seconds back to 0')
    await waitFor(async () => m(await scrape.metrics(), 'lag_bytes') < blockedBytes, 20_000, 'lag_bytes falls')
    assertEquals(m(await scrape.metrics(), 'rows_total', { table: `public.${table}`, operation: 'insert' }), 10)
    await stop(run)
  } finally {
    await cleanUp(sql, slot, table, dir)
  }
})

test('metrics: /readyz turns 503 when the replication connection is cut, and 200 again after the reconnect', async () => {
  const sql = sqlClient()
  const table = uniqueName('metrics_ready')
  const slot = uniqueName('s')
  await sql.unsafe(`create table ${table} (id int primary key)`)
  const proxy = await PgProxy.start(Number(new URL(TEST_URL).port))
  const url = new URL(TEST_URL)
  url.port = String(proxy.port)
  try {
    const { run, scrape } = await startCli(sql, url.href, slot, table)
    // New connections stall for a while, so the time without a stream is long enough to see.
    const stalled = proxy.stall(4000)
    assert(proxy.cutAll() > 0, 'connections were cut')
    await waitFor(async () => (await scrape.get('/readyz')).status === 503, 5000, '/readyz 503 after the cut')
    const notReady = await scrape.get('/readyz')
    assert(/^(not streaming|starting)[^\n]*\n$/.test(notReady.body), `one line saying why: ${JSON.stringify(notReady.body)}`)
    assertEquals((await scrape.get('/healthz')).status, 200, 'the process is alive all the same')
    await stalled
    await waitFor(async () => (await scrape.get('/readyz')).status === 200, 30_000, '/readyz 200 after the reconnect')
    const after = await scrape.metrics()
    assert(m(after, 'reconnects_total') >= 1, 'a reconnect was counted')
    const retried = after.get('pg_to_brokers_retries_total')!.samples.reduce((sum, s) => sum + s.value, 0)
    assert(retried >= 1, 'the failure was counted as retried, by code')
    await sql.unsafe(`insert into ${table} values (1)`)
    await waitFor(async () => m(await scrape.metrics(), 'rows_total', { table: `public.${table}`, operation: 'insert' }) === 1, 20_000, 'streaming again')
    await stop(run)
  } finally {
    await proxy.close()
    await cleanUp(sql, slot, table)
  }
})

test('metrics: a port in use, an address of no interface here and a malformed address exit 2 with a clear message, before connecting', async () => {
  const busy = await listenOn(0)
  const port = (busy.address() as { port: number }).port
  // An unreachable URL: each case must fail on the listener before any connection is tried.
  const env = { PG_TO_BROKERS_POSTGRES_URL: 'postgres://u@127.0.0.1:1/db' }
  const cases: [string, string][] = [
    [`127.0.0.1:${port}`, `metrics.listen: cannot listen on 127.0.0.1:${port}: port ${port} is already in use on 127.0.0.1`],
    ['192.0.2.1:9187', 'metrics.listen: cannot listen on 192.0.2.1:9187: 192.0.2.1 is not an address of this host'],
    ['127.0.0.1:99999', 'metrics.listen: expected host:port, [ipv6]:port or a port (then 127.0.0.1)'],
  ]
  try {
    for (const [listen, message] of cases) {
      const run = new FixtureProcess(CLI, env, ['run', '--slot', uniqueName('s'), '--metrics-listen', listen])
      const status = await run.waitForExit(30_000)
      assertEquals(status.code, 2, `exit code for ${listen} (stderr: ${run.stderr})`)
      assert(run.stderr.includes(message), `stderr for ${listen}: ${run.stderr}`)
      assert(!run.stderr.includes('cannot connect'), 'no connection was tried')
    }
  } finally {
    await new Promise((resolve) => busy.close(resolve))
  }
})

test('metrics: an initial snapshot counts its rows per table with its estimate; /readyz is 503 while it is read, 200 once streaming', async () => {
  const sql = sqlClient()
  const table = uniqueName('metrics_snap')
  const slot = uniqueName('s')
  const dir = await mkdtemp(`${tmpdir()}/pgtb-metrics-`)
  const gate = `${dir}/gate`
  await sql.unsafe(`create table ${table} (id int primary key); insert into ${table} select generate_series(1, 1500); analyze ${table}`)
  try {
    // The writer holds the snapshot's batches until the gate goes, so the snapshot phase can be seen.
    await writeFile(gate, '')
    const port = await freePort()
    const args = ['run', '--slot', slot, '--publication', slot, '--tables', table, '--snapshot-mode', 'initial', '--snapshot-chunk-size', '500']
    const run = new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: TEST_URL }, [
      ...args,
      '--metrics-listen',
      `127.0.0.1:${port}`,
      '--writer-module',
      GATED_WRITER,
      '--writer-option',
      `gate=${gate}`,
    ])
    const scrape = scraper(port)
    const readyz = () => scrape.get('/readyz').catch(() => ({ status: 0, body: '' }))
    await waitFor(async () => (await readyz()).body === 'starting: reading the initial snapshot\n', 20_000, 'the snapshot phase on /readyz')
    assertEquals((await readyz()).status, 503)
    const key = { table: `public.${table}` }
    assert(m(await scrape.metrics(), 'snapshot_rows_total', key) < 1500, 'not all rows are delivered while the writer is held')
    await rm(gate)
    await waitFor(async () => m(await scrape.metrics(), 'snapshot_rows_total', key) === 1500, 20_000, 'snapshot_rows_total of the table at 1500')
    await waitFor(async () => (await readyz()).status === 200, 20_000, '/readyz 200 once streaming')
    const parsed = await scrape.metrics()
    assertEquals(m(parsed, 'snapshot_rows_estimate', key), 1500)
    assert(m(parsed, 'batch_records_sum') >= 1500, 'the snapshot went out in batches')
    assertEquals(m(parsed, 'rows_total', { ...key, operation: 'insert' }), 0, 'snapshot rows are not stream inserts')
    await stop(run)
  } finally {
    await cleanUp(sql, slot, table, dir)
  }
})

test('metrics: a standby waiting for the slot is ready (200, "standing by")', async () => {
  const sql = sqlClient()
  const table = uniqueName('metrics_standby')
  const slot = uniqueName('s')
  await sql.unsafe(`create table ${table} (id int primary key)`)
  try {
    const { run: active } = await startCli(sql, TEST_URL, slot, table)
    const port = await freePort()
    const args = ['run', '--slot', slot, '--publication', slot, '--tables', table, '--standby', '--metrics-listen', `127.0.0.1:${port}`]
    const standby = new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: TEST_URL }, args)
    const scrape = scraper(port)
    await waitFor(async () => (await scrape.get('/readyz').catch(() => ({ status: 0, body: '' }))).body.startsWith('standing by'), 20_000, 'standing by')
    assertEquals((await scrape.get('/readyz')).status, 200)
    assertEquals(m(await scrape.metrics(), 'ready'), 1)
    await stop(standby)
    await stop(active)
  } finally {
    await cleanUp(sql, slot, table)
  }
})

test('metrics: spool_bytes holds a streamed in-progress transaction while it is open, and is 0 once it committed and was replayed', async () => {
  await requireServer(14, 'streaming of in-progress transactions')
  const sql = sqlClient()
  const table = uniqueName('metrics_spool')
  const slot = uniqueName('s')
  await sql.unsafe(`create table ${table} (id int primary key, note text)`)
  const session = await sql.reserve()
  try {
    const { run, scrape } = await startCli(sql, TEST_URL, slot, table)
    // Far past the test server's logical_decoding_work_mem (64 kB): the server streams it while it is open.
    await session.unsafe('begin')
    await session.unsafe(`insert into ${table} select g, repeat('x', 200) from generate_series(1, 5000) g`)
    await waitFor(async () => m(await scrape.metrics(), 'spool_bytes') > 5000 * 100, 20_000, 'spool_bytes past half the rows written')
    await session.unsafe('commit')
    const key = { table: `public.${table}`, operation: 'insert' }
    await waitFor(async () => m(await scrape.metrics(), 'rows_total', key) === 5000, 30_000, 'the transaction delivered')
    assertEquals(m(await scrape.metrics(), 'spool_bytes'), 0)
    await stop(run)
  } finally {
    session.release()
    await cleanUp(sql, slot, table)
  }
})
