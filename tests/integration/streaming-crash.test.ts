/**
 * kill -9 while a large transaction is being streamed in progress, and again while it is being
 * replayed from its spool file: after each restart it arrives whole (the slot was never confirmed
 * past it, so the server sends it again from its start), re-sent records are byte-identical, and
 * the spool directories the killed processes could not remove are removed by the next start.
 */
import { readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { currentRuntime, describeExit, FIXTURES, FixtureProcess, sleep } from './process.ts'
import { dropSlot, requireServer, sqlClient, TEST_URL, uniqueName, waitFor } from './support.ts'
import { PAYLOAD_SQL, spoolFilesIn, spoolParent, waitForConfirmed } from './streaming-support.ts'

const ROWS = 60_000

interface OutputRecord {
  id: string
  lsn: string
  operation: string
  values: [number, string]
}

/** First occurrences by id, in file order, after checking that every repeat is byte-identical. */
function firstOccurrences(path: string): { records: OutputRecord[]; lines: number } {
  const first = new Map<string, string>()
  const records: OutputRecord[] = []
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
  for (const line of lines) {
    const record = JSON.parse(line) as OutputRecord
    if (record.operation === 'MESSAGE') continue // other sessions' logical messages reach every slot
    const earlier = first.get(record.id)
    if (earlier === undefined) {
      first.set(record.id, line)
      records.push(record)
    } else assertEquals(line, earlier, `re-sent record ${record.id} is identical`)
  }
  return { records, lines: lines.length }
}

test('kill -9 while a large transaction is streamed, and while it is replayed: it arrives whole after restart, no spool file is left', async () => {
  await requireServer(14, 'streaming of in-progress transactions')
  const sql = sqlClient()
  const table = uniqueName('scrash')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  const output = join(tmpdir(), `pgtb-${table}.jsonl`)
  const spool = spoolParent()
  let fixture: FixtureProcess | undefined
  const spawn = async (): Promise<FixtureProcess> => {
    await waitFor(
      async () => (await sql`select active from pg_replication_slots where slot_name = ${slot}`)[0]?.active !== true,
      10_000,
      'the slot to be released',
    )
    fixture = new FixtureProcess(FIXTURES.streamToFile, {
      PGTB_FIXTURE_URL: TEST_URL,
      PGTB_FIXTURE_SLOT: slot,
      PGTB_FIXTURE_PUBLICATION: publication,
      PGTB_FIXTURE_TABLES: table,
      PGTB_FIXTURE_OUTPUT: output,
      PGTB_FIXTURE_BATCH_SIZE: '100',
      PGTB_FIXTURE_STREAMING: 'on',
      PGTB_FIXTURE_SPOOL_DIR: spool.path,
    })
    await fixture.waitForLine(/^streaming /, 30_000)
    return fixture
  }
  const runDirectories = () => spool.files().filter((f) => f.endsWith('/'))
  try {
    await sql.unsafe(`create table ${table} (id int primary key, payload text)`)
    rmSync(output, { force: true })

    // 1. Killed while the transaction is open and being streamed into a spool file.
    const first = await spawn()
    const big = await sql.reserve()
    try {
      await big`begin`
      await big.unsafe(`insert into ${table} select g, ${PAYLOAD_SQL} from generate_series(1, ${ROWS / 2}) g`)
      await waitFor(() => spoolFilesIn(spool.files()).length > 0, 15_000, 'the open transaction to be spooled')
      assertEquals((await first.kill()).signal, 'SIGKILL', 'the first run was killed')
      const leaked = runDirectories()
      assertEquals(leaked.length, 1, `the killed run left its spool directory behind (${leaked.join(', ')})`)
      await big.unsafe(`insert into ${table} select g, ${PAYLOAD_SQL} from generate_series(${ROWS / 2 + 1}, ${ROWS}) g`)
      await big`commit`
    } finally {
      big.release()
    }
    await sql.unsafe(`insert into ${table} values (${ROWS + 1}, 'after')`)

    // 2. Restarted: it removes the leftover, and is killed again once the replay has begun writing.
    const second = await spawn()
    assert(/removed the spool directory of a process that is gone/.test(second.stdout), `the restart reports the removal; stdout: ${second.stdout}`)
    const sizeBefore = statSafe(output)
    let killedMidReplay = false
    for (let i = 0; i < 2000 && !second.exitStatus; i++) {
      if (statSafe(output) > sizeBefore) {
        await second.kill()
        killedMidReplay = true
        break
      }
      await sleep(5)
    }
    if (!killedMidReplay) await second.kill()
    const linesAfterSecond = statSafe(output) > 0 ? firstOccurrences(output).lines : 0

    // 3. Restarted again: catches up, stops cleanly, leaves nothing behind.
    const third = await spawn()
    await waitForConfirmed(sql, slot, 'the last run to confirm the transaction', 60_000, () => {
      if (third.exitStatus) throw new Error(`the last run exited (${describeExit(third.exitStatus)}); stderr: ${third.stderr.trim()}`)
    })
    third.signal('SIGTERM')
    const status = await third.waitForExit(20_000)
    assertEquals(status.code, 0, `the last run stops cleanly (${describeExit(status)}; stderr: ${third.stderr.trim()})`)
    assertEquals(spool.files(), [], "no spool file or directory left: the second run's leftover was removed by the third")

    const { records, lines } = firstOccurrences(output)
    assertEquals(records.length, ROWS + 1, 'distinct records')
    const bigRecords = records.slice(0, ROWS)
    assertEquals(new Set(bigRecords.map((r) => r.lsn)).size, 1, 'the large transaction has one commit LSN')
    bigRecords.forEach((r, i) => {
      if (r.values[0] !== i + 1 || r.id !== `${r.lsn}:${i}`)
        throw new Error(`record ${i}: expected row ${i + 1} as ${r.lsn}:${i}, got row ${r.values[0]} as ${r.id}`)
    })
    assertEquals(records[ROWS]!.values, [ROWS + 1, 'after'], 'the transaction after it')
    console.log(
      `     ${currentRuntime()}: killed once mid-stream, ` +
        `once ${killedMidReplay ? `mid-replay (${linesAfterSecond} records written by then)` : 'after the replay had finished (too fast to catch)'}; ` +
        `${lines} lines in the file, ${records.length} distinct, ${lines - records.length} re-sent (identical)`,
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

function statSafe(path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}
