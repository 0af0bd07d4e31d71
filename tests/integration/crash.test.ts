/**
 * The kill -9 test: a 100,000-change workload is committed while the stream-to-file fixture
 * (a separate process, on the runtime running this suite) is SIGKILLed at random moments and
 * restarted on the same slot, until the workload is done and a last run has caught up and stopped
 * cleanly. The output file must then hold every committed change at least once, each key's
 * changes in order (over first occurrences), and every re-sent record byte-identical to the first.
 *
 * Torn lines: SIGKILL can cut an append short (a fatal signal interrupts a multi-page write(2)).
 * Such a fragment is never acknowledged, so the slot was not confirmed past it, and the FileWriter
 * cuts an unterminated last line off when it reopens the file; the restarted run re-sends those
 * records. The verifier therefore requires every newline-terminated line to be a complete record,
 * and ignores only an unterminated final line (none is expected, since the last run stops cleanly;
 * the tally says how many kills left a fragment behind for the next run to cut off).
 */
import { closeSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type postgres from 'postgres'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { mulberry32, testSeed } from '../seed.ts'
import { parseLsn } from '../../src/pg/lsn.ts'
import { currentRuntime, describeExit, FIXTURES, FixtureProcess, sleep } from './process.ts'
import { dropSlot, sqlClient, TEST_URL, uniqueName, waitFor } from './support.ts'

const TOTAL_CHANGES = 100_000
const KEYS = 20_000
const MIN_KILLS = 10
const KILL_DELAY_MS: readonly [number, number] = [50, 600]
const BATCH_SIZES = [50, 200, 1000] as const

interface CommittedTransaction {
  readonly xid: number
  /** key → the v this transaction gave it (1 = INSERT, later = UPDATE). */
  readonly changes: Map<number, number>
}

/** Sizes from 1 to 2000 rows: mostly small, some large, and both extremes at least once. */
function transactionSize(rnd: () => number, index: number): number {
  if (index === 0) return 2000
  if (index === 1) return 1
  const r = rnd()
  if (r < 0.5) return 1 + Math.floor(rnd() * 50)
  if (r < 0.85) return 50 + Math.floor(rnd() * 450)
  return 500 + Math.floor(rnd() * 1501)
}

/** Commits TOTAL_CHANGES row changes in transactions of varying size, each mixing INSERTs of new keys and UPDATEs (v + 1) of known ones. */
async function runWorkload(sql: postgres.Sql, table: string, rnd: () => number, paceMs: number): Promise<CommittedTransaction[]> {
  const committed: CommittedTransaction[] = []
  const version = new Map<number, number>()
  let remaining = TOTAL_CHANGES
  for (let index = 0; remaining > 0; index++) {
    const size = Math.min(remaining, transactionSize(rnd, index))
    const keys = new Set<number>()
    while (keys.size < size) keys.add(1 + Math.floor(rnd() * KEYS))
    const inserts = [...keys].filter((k) => !version.has(k))
    const updates = [...keys].filter((k) => version.has(k))
    const xid = await sql.begin(async (tx) => {
      const [row] = await tx.unsafe<{ xid: string }[]>(`select (txid_current()::text::bigint % 4294967296)::text as xid`)
      if (inserts.length > 0) {
        await tx.unsafe(`insert into ${table} (id, k, v) select i, i % 97, 1 from unnest($1::bigint[]) i`, [`{${inserts.join(',')}}`])
      }
      if (updates.length > 0) {
        const rows = await tx.unsafe<{ id: string; v: number }[]>(`update ${table} set v = v + 1 where id = any($1::bigint[]) returning id::text, v`, [
          `{${updates.join(',')}}`,
        ])
        if (rows.length !== updates.length) throw new Error(`workload: update touched ${rows.length} rows, expected ${updates.length}`)
      }
      return Number(row!.xid)
    })
    const changes = new Map<number, number>()
    for (const k of keys) {
      const v = (version.get(k) ?? 0) + 1
      version.set(k, v)
      changes.set(k, v)
    }
    committed.push({ xid, changes })
    remaining -= size
    if (paceMs > 0) await sleep(rnd() * paceMs)
  }
  return committed
}

interface Verdict {
  lines: number
  unique: number
  duplicates: number
  /** Other sessions' logical messages (not part of the workload). */
  messages: number
  tornFinalLine: boolean
}

/** Checks the output file against what was committed; throws on the first class of violation. */
function verify(path: string, table: string, committed: readonly CommittedTransaction[]): Verdict {
  const text = readFileSync(path, 'utf8')
  const parts = text.split('\n')
  const tail = parts.pop()! // '' when the file ends with a newline; otherwise an unterminated (torn, never acknowledged) final line
  const firstById = new Map<string, string>()
  const mismatched: string[] = []
  const first: Record<string, unknown>[] = []
  for (let i = 0; i < parts.length; i++) {
    const line = parts[i]!
    let record: Record<string, unknown>
    try {
      record = JSON.parse(line) as Record<string, unknown>
    } catch {
      throw new Error(`line ${i + 1} of ${path} is not a complete JSON record: ${JSON.stringify(line.slice(0, 200))}`)
    }
    const id = record.id as string
    const earlier = firstById.get(id)
    if (earlier === undefined) {
      firstById.set(id, line)
      first.push(record)
    } else if (earlier !== line) {
      mismatched.push(`${id}:\n       first ${earlier}\n       again ${line}`)
    }
  }
  assert(
    mismatched.length === 0,
    `${mismatched.length} re-sent records differ from the first record with their id, e.g. ${mismatched.slice(0, 2).join('\n     ')}`,
  )

  // What was committed: (key, v) → xid; per transaction, its size.
  const xidOf = new Map<string, number>()
  for (const t of committed) for (const [k, v] of t.changes) xidOf.set(`${k}:${v}`, t.xid)

  const lastV = new Map<number, number>()
  const perCommit = new Map<string, { xid: number; count: number; maxOrdinal: number }>()
  let previousLsn = -1n
  let messages = 0
  for (const r of first) {
    // Logical decoding messages (pg_logical_emit_message) reach every slot of the database, whatever
    // the publication: other sessions' messages may be in the file. Only their identity was checked.
    if (r.operation === 'MESSAGE') {
      messages++
      continue
    }
    const id = r.id as string
    const values = r.values as number[]
    const [key, k, v] = [values[0]!, values[1]!, values[2]!]
    assertEquals(r.table_name, `public.${table}`, `table of ${id}`)
    assertEquals(r.fields, ['id', 'k', 'v'], `fields of ${id}`)
    assertEquals(k, key % 97, `k of ${id}`)
    const expectedV = (lastV.get(key) ?? 0) + 1
    assert(v === expectedV, `key ${key}: first occurrences out of order or with a gap: got v=${v} (record ${id}), expected v=${expectedV}`)
    lastV.set(key, v)
    assertEquals(r.operation, v === 1 ? 'INSERT' : 'UPDATE', `operation of ${id}`)
    const xid = xidOf.get(`${key}:${v}`)
    assert(xid !== undefined, `record ${id} (key ${key}, v ${v}) was never committed by the workload`)
    assertEquals(r.transaction_id, xid, `transaction of ${id}`)
    const lsnText = r.lsn as string
    assert(id.startsWith(`${lsnText}:`), `id ${id} is "<commit LSN>:<ordinal>" with lsn ${lsnText}`)
    const lsn = parseLsn(lsnText)
    assert(lsn >= previousLsn, `first occurrences follow commit order: ${id} after a record of commit ${previousLsn.toString(16)}`)
    previousLsn = lsn
    const group = perCommit.get(lsnText) ?? { xid, count: 0, maxOrdinal: -1 }
    assertEquals(group.xid, xid, `one transaction per commit LSN ${lsnText}`)
    group.count++
    group.maxOrdinal = Math.max(group.maxOrdinal, Number(id.slice(lsnText.length + 1)))
    perCommit.set(lsnText, group)
  }
  // Every committed change arrived at least once: each key reached its final version (its earlier ones were checked in sequence).
  const finalV = new Map<number, number>()
  for (const t of committed) for (const [k, v] of t.changes) finalV.set(k, v)
  const missing = [...finalV].filter(([k, v]) => lastV.get(k) !== v)
  assert(
    missing.length === 0,
    `${missing.length} keys lack committed changes, e.g. ${missing
      .slice(0, 5)
      .map(([k, v]) => `key ${k}: got up to v=${lastV.get(k) ?? 0}, committed v=${v}`)
      .join('; ')}`,
  )
  assertEquals(first.length - messages, TOTAL_CHANGES, 'distinct row-change records')
  assertEquals(perCommit.size, committed.length, 'transactions')
  const sizes = new Map(committed.map((t) => [t.xid, t.changes.size]))
  for (const [lsnText, g] of perCommit) {
    assertEquals(g.count, sizes.get(g.xid), `records of the transaction committed at ${lsnText}`)
    assertEquals(g.maxOrdinal, g.count - 1, `ordinals of the transaction committed at ${lsnText} run 0..n-1`)
  }
  return { lines: parts.length, unique: first.length, duplicates: parts.length - first.length, messages, tornFinalLine: tail !== '' }
}

/** True when the file is non-empty and does not end with a newline (a SIGKILL cut an append short). */
function endsTorn(path: string): boolean {
  let size: number
  try {
    size = statSync(path).size
  } catch {
    return false
  }
  if (size === 0) return false
  const fd = openSync(path, 'r')
  try {
    const byte = new Uint8Array(1)
    readSync(fd, byte, 0, 1, size - 1)
    return byte[0] !== 0x0a
  } finally {
    closeSync(fd)
  }
}

test('kill -9 at random moments while a 100,000-change workload streams to a file: nothing lost, order kept, duplicates identical', async () => {
  const sql = sqlClient()
  const table = uniqueName('crash')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  const output = join(tmpdir(), `pgtb-${table}.jsonl`)
  const seed = testSeed()
  const rnd = mulberry32(seed)
  const killRnd = mulberry32(seed ^ 0x5bd1e995)
  let fixture: FixtureProcess | undefined
  let passed = false
  const started = performance.now()
  try {
    await sql.unsafe(`create table ${table} (id bigint primary key, k int not null, v int not null)`)
    await sql.unsafe(`create publication ${publication} for table ${table}`)
    await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput')`
    rmSync(output, { force: true })

    const slotActive = async () => (await sql`select active from pg_replication_slots where slot_name = ${slot}`)[0]?.active === true
    let runs = 0
    const spawnRun = async (batchSize: number): Promise<FixtureProcess> => {
      await waitFor(async () => !(await slotActive()), 10_000, 'the slot to be released by the killed run')
      runs++
      const p = new FixtureProcess(FIXTURES.streamToFile, {
        PGTB_FIXTURE_URL: TEST_URL,
        PGTB_FIXTURE_SLOT: slot,
        PGTB_FIXTURE_PUBLICATION: publication,
        PGTB_FIXTURE_TABLES: table,
        PGTB_FIXTURE_OUTPUT: output,
        PGTB_FIXTURE_BATCH_SIZE: String(batchSize),
      })
      fixture = p
      await p.waitForLine(/^streaming /, 30_000)
      return p
    }

    // The workload, committed by this process while the fixture is killed and restarted.
    let workloadDone = false
    let workloadError: unknown
    const workloadStarted = performance.now()
    const workload = runWorkload(sql, table, rnd, 25).then(
      (committed) => ((workloadDone = true), committed),
      (error: unknown) => {
        workloadError = error
        workloadDone = true
        return [] as CommittedTransaction[]
      },
    )
    let workloadMs = 0
    void workload.then(() => (workloadMs = performance.now() - workloadStarted))

    let kills = 0
    let tornTails = 0
    const delays: number[] = []
    while ((kills < MIN_KILLS || !workloadDone) && workloadError === undefined) {
      const p = await spawnRun(BATCH_SIZES[Math.floor(killRnd() * BATCH_SIZES.length)]!)
      const delay = KILL_DELAY_MS[0] + Math.floor(killRnd() * (KILL_DELAY_MS[1] - KILL_DELAY_MS[0] + 1))
      await sleep(delay)
      if (p.exitStatus) throw new Error(`run ${runs} exited by itself (${describeExit(p.exitStatus)}) before the kill; stderr: ${p.stderr.trim()}`)
      const status = await p.kill()
      assertEquals(status.signal, 'SIGKILL', `run ${runs} ended by SIGKILL (${describeExit(status)})`)
      kills++
      delays.push(delay)
      if (endsTorn(output)) tornTails++
    }
    const committed = await workload
    if (workloadError) throw workloadError

    // The last run: catch up with the end of the workload, then stop cleanly. With
    // synchronous_commit=off on the test server, pg_current_wal_lsn() may still be behind the
    // last commits; the insert position is not.
    const [{ target }] = (await sql`select pg_current_wal_insert_lsn()::text as target`) as unknown as [{ target: string }]
    const last = await spawnRun(1000)
    let lastNudge = Date.now()
    await waitFor(
      async () => {
        if (last.exitStatus) throw new Error(`the last run exited (${describeExit(last.exitStatus)}); stderr: ${last.stderr.trim()}`)
        // An idle server writes no WAL; a little (an empty transaction, skipped by pgoutput) lets a keepalive carry the slot past the target.
        if (Date.now() - lastNudge > 1000) (lastNudge = Date.now()), await sql`select txid_current()`
        const [row] = await sql`select confirmed_flush_lsn >= ${target}::pg_lsn as done from pg_replication_slots where slot_name = ${slot}`
        return row?.done === true
      },
      45_000,
      `the last run to confirm up to ${target}`,
    )
    last.signal('SIGTERM')
    const status = await last.waitForExit(20_000)
    assertEquals(status.code, 0, `the last run stops cleanly on SIGTERM (${describeExit(status)}; stderr: ${last.stderr.trim()})`)

    const verdict = verify(output, table, committed)
    console.log(
      `     ${currentRuntime()}, seed ${seed}: ${committed.length} transactions (${TOTAL_CHANGES} changes over ${KEYS} keys) committed in ` +
        `${Math.round(workloadMs)} ms; ` +
        `${runs} runs, ${kills} kills (delays ${Math.min(...delays)}–${Math.max(...delays)} ms after "streaming"), ${tornTails} left a torn tail; ` +
        `${verdict.lines} records in the file: ${verdict.unique} distinct, ${verdict.duplicates} duplicates (all byte-identical)` +
        `${verdict.messages > 0 ? ` (and ${verdict.messages} logical messages of other sessions)` : ''}` +
        `${verdict.tornFinalLine ? '; an unterminated final line was ignored' : ''}; ${Math.round(performance.now() - started)} ms in all`,
    )
    passed = true
  } finally {
    if (fixture && !fixture.exitStatus) await fixture.kill()
    await dropSlot(sql, slot).catch(() => {})
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${publication}`)
    await sql.end()
    if (passed) rmSync(output, { force: true })
    else console.log(`     output kept for inspection: ${output}`)
  }
})
