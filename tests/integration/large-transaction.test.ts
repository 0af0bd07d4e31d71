/**
 * One transaction far larger than logical_decoding_work_mem (64kB on the test server) streams
 * through in bounded memory: the pipeline publishes it batch by batch and never holds it whole.
 *
 * The stream-to-file fixture does the streaming in its own process (so earlier tests in this
 * process cannot skew the numbers); its RSS is sampled from /proc/<pid>/status meanwhile. A
 * warm-up transaction a third the size first brings the runtime's heap and allocator to their
 * steady state for this workload (V8 in Deno and JSC in Bun keep far more than the live data).
 * Were the pipeline holding transactions whole, the measured one would still need at least 2/3 of
 * its record bytes beyond that; the test asserts RSS grows by less than 1/2 (garbage awaiting
 * collection has reached 72 MB of 163 MB on Bun), which still tells the two apart. The output file is
 * then checked line by line (never loaded whole): all rows, in order, in one transaction.
 */
import { createReadStream, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { currentRuntime, describeExit, FIXTURES, FixtureProcess, residentBytes } from './process.ts'
import { dropSlot, sqlClient, TEST_URL, uniqueName, waitFor } from './support.ts'

const ROWS = 300_000
const WARM_UP_ROWS = 100_000

const MB = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`

/** Per-transaction tallies from the output file, read as a stream. */
interface FileTally {
  /** Records whose row id is negative (the warm-up) and positive (the measured transaction). */
  readonly warmUp: { records: number; bytes: number; transactions: Set<number> }
  readonly measured: { records: number; bytes: number; transactions: Set<number>; commitLsns: Set<string> }
  problem: string | undefined
}

async function tallyFile(path: string): Promise<FileTally> {
  const tally: FileTally = {
    warmUp: { records: 0, bytes: 0, transactions: new Set() },
    measured: { records: 0, bytes: 0, transactions: new Set(), commitLsns: new Set() },
    problem: undefined,
  }
  let nextWarmUpId = -WARM_UP_ROWS
  let nextId = 1
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity })
  for await (const line of lines) {
    const record = JSON.parse(line) as { id: string; lsn: string; transaction_id: number; operation: string; values: [number, string] }
    if (record.operation === 'MESSAGE') continue // other sessions' logical messages reach every slot
    const rowId = record.values[0]
    const ordinal = Number(record.id.slice(record.lsn.length + 1))
    if (rowId < 0) {
      tally.warmUp.records++
      tally.warmUp.bytes += line.length
      tally.warmUp.transactions.add(record.transaction_id)
      if (rowId !== nextWarmUpId++) tally.problem ??= `warm-up record ${record.id}: expected row ${nextWarmUpId - 1}, got ${rowId}`
      continue
    }
    const m = tally.measured
    if (rowId !== nextId || ordinal !== nextId - 1 || record.operation !== 'INSERT') {
      tally.problem ??= `record ${record.id}: expected INSERT of row ${nextId} at ordinal ${nextId - 1}, got ${record.operation} of row ${rowId}`
    }
    nextId++
    m.records++
    m.bytes += line.length
    m.transactions.add(record.transaction_id)
    m.commitLsns.add(record.lsn)
  }
  return tally
}

test(`a ${ROWS}-row transaction streams in bounded memory, as one transaction`, async () => {
  const sql = sqlClient()
  const table = uniqueName('big')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  const output = join(tmpdir(), `pgtb-${table}.jsonl`)
  let fixture: FixtureProcess | undefined
  try {
    const [setting] = await sql<{ setting: string; unit: string }[]>`select setting, unit from pg_settings where name = 'logical_decoding_work_mem'`
    await sql.unsafe(`create table ${table} (id int primary key, payload text)`)
    rmSync(output, { force: true })
    const p = new FixtureProcess(FIXTURES.streamToFile, {
      PGTB_FIXTURE_URL: TEST_URL,
      PGTB_FIXTURE_SLOT: slot,
      PGTB_FIXTURE_PUBLICATION: publication,
      PGTB_FIXTURE_TABLES: table,
      PGTB_FIXTURE_OUTPUT: output,
      // Modest batches: the in-flight data stays small (8 batches of 250 records), and so does the
      // garbage the runtime lets pile up between collections, well below the bound.
      PGTB_FIXTURE_BATCH_SIZE: '250',
      // The server keeps the transaction until commit (large-streamed-transaction.test.ts covers streaming).
      PGTB_FIXTURE_STREAMING: 'off',
    })
    fixture = p
    await p.waitForLine(/^streaming /, 30_000)
    const initial = residentBytes(p.pid)
    assert(initial !== undefined, `RSS of PID ${p.pid} readable from /proc`)
    let peak = initial
    const sampler = setInterval(() => (peak = Math.max(peak, residentBytes(p.pid) ?? 0)), 10)

    /** Commits `sql` and waits until the slot is confirmed past it: everything before was written (and fsynced). */
    const commitAndWait = async (statement: string, what: string) => {
      await sql.unsafe(statement)
      // synchronous_commit=off on the test server: the insert position, not pg_current_wal_lsn(), is past the commit.
      const [{ target }] = (await sql`select pg_current_wal_insert_lsn()::text as target`) as unknown as [{ target: string }]
      let nudged = Date.now()
      await waitFor(
        async () => {
          if (p.exitStatus) throw new Error(`the fixture exited (${describeExit(p.exitStatus)}); stderr: ${p.stderr.trim()}`)
          if (Date.now() - nudged > 1000) (nudged = Date.now()), await sql`select txid_current()` // a little WAL, so a keepalive moves on
          const [row] = await sql`select confirmed_flush_lsn >= ${target}::pg_lsn as done from pg_replication_slots where slot_name = ${slot}`
          return row?.done === true
        },
        60_000,
        what,
      )
    }

    await commitAndWait(
      `insert into ${table} select g, repeat(md5(g::text), 10) from generate_series(-${WARM_UP_ROWS}, -1) g`,
      'the warm-up transaction confirmed',
    )
    const baseline = peak
    const started = performance.now()
    await commitAndWait(`insert into ${table} select g, repeat(md5(g::text), 10) from generate_series(1, ${ROWS}) g`, `the ${ROWS}-row transaction confirmed`)
    const streamedMs = performance.now() - started
    clearInterval(sampler)
    p.signal('SIGTERM')
    const status = await p.waitForExit(20_000)
    assertEquals(status.code, 0, `the fixture stops cleanly on SIGTERM (${describeExit(status)}; stderr: ${p.stderr.trim()})`)

    const tally = await tallyFile(output)
    assertEquals(tally.problem, undefined, 'records arrive in order, row ids and ordinals consecutive')
    assertEquals(tally.warmUp.records, WARM_UP_ROWS, 'warm-up record count')
    assertEquals(tally.measured.records, ROWS, 'record count')
    assertEquals(tally.measured.transactions.size, 1, 'all rows in one transaction (one xid)')
    assertEquals(tally.measured.commitLsns.size, 1, 'all rows in one transaction (one commit LSN)')
    const bytes = tally.measured.bytes
    const growth = peak - baseline
    console.log(
      `     ${currentRuntime()}, logical_decoding_work_mem=${setting?.setting}${setting?.unit}: ${ROWS} records, ` +
        `${MB(bytes)} of record data (file ${MB(statSync(output).size)}), streamed and fsynced in ${Math.round(streamedMs)} ms; ` +
        `fixture RSS at start ${MB(initial)}, after the ${WARM_UP_ROWS}-row warm-up ${MB(baseline)}, peak ${MB(peak)}: ` +
        `growth ${MB(growth)} (bound: half the record data, ${MB(bytes / 2)})`,
    )
    assert(
      growth < bytes / 2,
      `the fixture's RSS grew by ${MB(growth)} during the transaction, not below half of its ${MB(bytes)} of records: ` +
        `the transaction seems to be held in memory`,
    )
    rmSync(output, { force: true })
  } finally {
    if (fixture && !fixture.exitStatus) await fixture.kill()
    await dropSlot(sql, slot).catch(() => {})
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${publication}`)
    await sql.end()
    rmSync(output, { force: true })
  }
})
