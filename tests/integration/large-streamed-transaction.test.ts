/**
 * A 300,000-row transaction streamed while it runs (streaming on): the server sends it in blocks
 * as it is written, the pipeline spools the blocks to a file and replays it at commit, so the
 * process never holds it whole. As in large-transaction.test.ts (streaming off), the stream-to-file
 * fixture runs in its own process, its RSS sampled from /proc after a warm-up transaction a third
 * the size; RSS must grow by less than half the measured transaction's record bytes (a held transaction
 * grows it by all of them; garbage awaiting collection has reached 72 MB of 163 MB on Bun). The spool
 * directory is sampled too: it must have held the transaction, and be empty after the clean stop.
 */
import { createReadStream, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { currentRuntime, describeExit, FIXTURES, FixtureProcess, residentBytes } from './process.ts'
import { dropSlot, requireServer, sqlClient, TEST_URL, uniqueName } from './support.ts'
import { PAYLOAD_SQL, spoolParent, waitForConfirmed } from './streaming-support.ts'

const ROWS = 300_000
const WARM_UP_ROWS = 100_000

const MB = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`

interface Tally {
  records: number
  bytes: number
  commitLsns: Set<string>
  problem: string | undefined
}

/** Reads the output file line by line: the measured transaction's rows must be 1..ROWS, in order, ordinals 0.., one commit. */
async function tallyMeasured(path: string): Promise<Tally> {
  const tally: Tally = { records: 0, bytes: 0, commitLsns: new Set(), problem: undefined }
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity })
  for await (const line of lines) {
    const record = JSON.parse(line) as { id: string; lsn: string; operation: string; values: [number, string] }
    if (record.operation === 'MESSAGE' || record.values[0] < 0) continue // other sessions' messages; the warm-up
    const expected = tally.records + 1
    const ordinal = Number(record.id.slice(record.lsn.length + 1))
    if (record.values[0] !== expected || ordinal !== expected - 1 || record.operation !== 'INSERT') {
      tally.problem ??= `record ${record.id}: expected INSERT of row ${expected} at ordinal ${expected - 1}, got ${record.operation} of row ${record.values[0]}`
    }
    tally.records++
    tally.bytes += line.length
    tally.commitLsns.add(record.lsn)
  }
  return tally
}

test(`a ${ROWS}-row transaction streamed in progress goes through a spool file, in bounded memory, as one transaction`, async () => {
  await requireServer(14, 'streaming of in-progress transactions')
  const sql = sqlClient()
  const table = uniqueName('bigs')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  const output = join(tmpdir(), `pgtb-${table}.jsonl`)
  const spool = spoolParent()
  let fixture: FixtureProcess | undefined
  try {
    await sql.unsafe(`create table ${table} (id int primary key, payload text)`)
    const p = new FixtureProcess(FIXTURES.streamToFile, {
      PGTB_FIXTURE_URL: TEST_URL,
      PGTB_FIXTURE_SLOT: slot,
      PGTB_FIXTURE_PUBLICATION: publication,
      PGTB_FIXTURE_TABLES: table,
      PGTB_FIXTURE_OUTPUT: output,
      PGTB_FIXTURE_BATCH_SIZE: '250',
      PGTB_FIXTURE_STREAMING: 'on',
      PGTB_FIXTURE_SPOOL_DIR: spool.path,
    })
    fixture = p
    await p.waitForLine(/^streaming /, 30_000)
    const initial = residentBytes(p.pid)
    assert(initial !== undefined, `RSS of PID ${p.pid} readable from /proc`)
    let peak = initial
    let spoolPeak = 0
    const samplers = [
      setInterval(() => (peak = Math.max(peak, residentBytes(p.pid) ?? 0)), 10),
      setInterval(() => (spoolPeak = Math.max(spoolPeak, spool.bytes())), 50),
    ]
    const commitAndWait = async (from: number, to: number, what: string) => {
      await sql.unsafe(`insert into ${table} select g, ${PAYLOAD_SQL} from generate_series(${from}, ${to}) g`)
      await waitForConfirmed(sql, slot, what, 120_000, () => {
        if (p.exitStatus) throw new Error(`the fixture exited (${describeExit(p.exitStatus)}); stderr: ${p.stderr.trim()}`)
      })
    }
    await commitAndWait(-WARM_UP_ROWS, -1, 'the warm-up transaction confirmed')
    const baseline = peak
    const warmUpSpool = spoolPeak
    const started = performance.now()
    await commitAndWait(1, ROWS, `the ${ROWS}-row transaction confirmed`)
    const elapsedMs = performance.now() - started
    for (const sampler of samplers) clearInterval(sampler)
    p.signal('SIGTERM')
    const status = await p.waitForExit(20_000)
    assertEquals(status.code, 0, `the fixture stops cleanly on SIGTERM (${describeExit(status)}; stderr: ${p.stderr.trim()})`)
    assertEquals(spool.files(), [], 'no spool file or directory left after the clean stop')

    const tally = await tallyMeasured(output)
    assertEquals(tally.problem, undefined, 'records arrive in order, row ids and ordinals consecutive')
    assertEquals(tally.records, ROWS, 'record count')
    assertEquals(tally.commitLsns.size, 1, 'all rows in one transaction (one commit LSN)')
    const growth = peak - baseline
    console.log(
      `     ${currentRuntime()}, streaming on: ${ROWS} records, ${MB(tally.bytes)} of record data (file ${MB(statSync(output).size)}), streamed, ` +
        `spooled, replayed and fsynced in ${Math.round(elapsedMs)} ms; ` +
        `spool peak ${MB(spoolPeak)} (warm-up ${MB(warmUpSpool)}); fixture RSS at start ${MB(initial)}, ` +
        `after the ${WARM_UP_ROWS}-row warm-up ${MB(baseline)}, peak ${MB(peak)}: ` +
        `growth ${MB(growth)} (bound: half the record data, ${MB(tally.bytes / 2)})`,
    )
    assert(spoolPeak > tally.bytes / 10, `the transaction went through the spool (peak ${MB(spoolPeak)})`)
    assert(
      growth < tally.bytes / 2,
      `the fixture's RSS grew by ${MB(growth)} during the transaction, not below half of its ${MB(tally.bytes)} of records: ` +
        `the transaction seems to be held in memory`,
    )
  } finally {
    if (fixture && !fixture.exitStatus) await fixture.kill()
    await dropSlot(sql, slot).catch(() => {})
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${publication}`)
    await sql.end()
    rmSync(output, { force: true })
    spool.remove()
  }
})
