/**
 * kill -9 of the real CLI (`pg-to-brokers run … --file`, on the runtime running this suite) in the
 * middle of a snapshot of a 50,000-row table read in chunks of 200 while INSERT/UPDATE/DELETE run,
 * restarted with the same command each time: (a) an initial snapshot (--snapshot-mode initial),
 * killed during its copy, then twice while the rest is read beside the stream; (b) an incremental
 * snapshot asked for with `pg-to-brokers snapshot` while the CLI streams, killed after its first
 * stored chunk and at two random points later. Each restart resumes
 * the same request after its stored key (never from the first row); the output file has no gap
 * (every row the load never touched was read), a re-sent stream record is byte-identical, a
 * snapshot row never contradicts the rows before it, and a consumer applying every record in order
 * ends equal to the table once the slot confirmed the end of the load.
 */
import { readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type postgres from 'postgres'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { mulberry32, testSeed } from '../seed.ts'
import { currentRuntime, describeExit, FixtureProcess, REPO_ROOT, sleep } from './process.ts'
import {
  assertEqualsTable,
  createSnapshotTable,
  Replica,
  snapshotsOf,
  startLoad,
  waitConfirmedPastNow,
  type Load,
  type SnapshotProgress,
} from './snapshot-support.ts'
import { dropSlot, requireServer, sqlClient, TEST_URL, uniqueName, waitFor } from './support.ts'

const CLI = `${REPO_ROOT}src/cli/entry.ts`
const ROWS = 50_000
const CHUNK = 200
const TIMEOUT_MS = 600_000

interface Scenario {
  readonly sql: postgres.Sql
  readonly table: string
  readonly slot: string
  readonly output: string
  readonly args: readonly string[]
  readonly random: () => number
}

/** A kill: the request as stored once the process was gone, and how many whole lines the file had. */
interface Kill {
  readonly progress: SnapshotProgress
  readonly lines: number
}

function scenario(mode: 'initial' | 'never', seed: number): Scenario {
  const [table, slot] = [uniqueName('snap_crash'), uniqueName('s')]
  const output = join(tmpdir(), `pgtb-${table}.jsonl`)
  rmSync(output, { force: true })
  const args = ['run', '--slot', slot, '--publication', slot, '--tables', table, '--file', output, '--snapshot-mode', mode]
  args.push('--snapshot-chunk-size', String(CHUNK), '--snapshot-progress', 'off')
  return { sql: sqlClient(), table, slot, output, args, random: mulberry32(seed) }
}

/** Starts the CLI once the slot is free (a killed run's walsender may linger a moment). */
async function spawnCli(s: Scenario): Promise<FixtureProcess> {
  const slotFree = async () => (await s.sql`select 1 from pg_replication_slots where slot_name = ${s.slot} and active`).length === 0
  await waitFor(slotFree, 15_000, `slot ${s.slot} released by the killed run`)
  return new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: TEST_URL }, s.args)
}

/** The slot's one snapshot request (there must be exactly one). */
async function request(s: Scenario): Promise<SnapshotProgress | undefined> {
  const rows = await snapshotsOf(s.sql, s.slot)
  assert(rows.length <= 1, `one snapshot request for the slot, found ${rows.length}: ${JSON.stringify(rows)}`)
  return rows[0]
}

/** Waits until the request's stored progress satisfies `reached`, waits up to `jitterMs` more, then SIGKILLs the CLI. */
async function killWhen(
  s: Scenario,
  run: FixtureProcess,
  load: Load,
  what: string,
  reached: (p: SnapshotProgress) => boolean,
  jitterMs: number,
): Promise<Kill> {
  await waitFor(
    async () => {
      if (run.exitStatus) throw new Error(`the CLI exited by itself (${describeExit(run.exitStatus)}) before ${what}: ${run.stderr.trim()}`)
      if (load.error) throw load.error
      const p = await request(s)
      return p !== undefined && reached(p)
    },
    180_000,
    what,
  )
  await sleep(Math.floor(s.random() * jitterMs))
  assertEquals((await run.kill()).signal, 'SIGKILL', `killed ${what}`)
  const lines = readFileSync(s.output, 'utf8').split('\n').length - 1
  // Read once the slot is free: by then no statement of the killed process is still running.
  await waitFor(async () => (await s.sql`select 1 from pg_replication_slots where slot_name = ${s.slot} and active`).length === 0, 15_000, 'slot released')
  const progress = (await request(s))!
  assertEquals(progress.status, 'running', `the kill ${what} landed mid-snapshot (rows done ${progress.rowsDone} of ${ROWS})`)
  assert(progress.rowsDone > 0 && progress.lastKey !== null, `progress was stored before the kill ${what}`)
  return { progress, lines }
}

/** Lets the last run finish the snapshot, stops the load, waits until the slot confirmed its end, stops the CLI cleanly. */
async function finish(s: Scenario, run: FixtureProcess, load: Load): Promise<{ final: SnapshotProgress; transactions: number }> {
  const alive = () => {
    if (run.exitStatus) throw new Error(`the CLI exited (${describeExit(run.exitStatus)}): ${run.stderr.trim()}`)
  }
  await waitFor(async () => (alive(), (await request(s))?.status === 'done'), 240_000, 'the snapshot to finish')
  const transactions = await load.stop()
  await waitConfirmedPastNow(s.sql, s.slot, 120_000, alive)
  run.signal('SIGTERM')
  assertEquals((await run.waitForExit(30_000)).code, 0, `the last run stops cleanly: ${run.stderr.trim()}`)
  return { final: (await request(s))!, transactions }
}

/**
 * After the first kill: restarts, kills again at a random point of 25–45% and of 60–80% of the
 * table (progress must move on each time), restarts, and lets the last run finish.
 */
async function killLaterAndFinish(
  s: Scenario,
  runs: FixtureProcess[],
  load: Load,
  first: Kill,
): Promise<{ kills: Kill[]; final: SnapshotProgress; transactions: number }> {
  const kills = [first]
  for (const [low, high] of [
    [0.25, 0.45],
    [0.6, 0.8],
  ] as const) {
    const previous = kills.at(-1)!.progress
    const at = Math.max(previous.rowsDone + CHUNK, Math.floor(ROWS * (low + (high - low) * s.random())))
    runs.push(await spawnCli(s))
    const kill = await killWhen(s, runs.at(-1)!, load, `at ${at} rows`, (p) => p.rowsDone >= at, 150)
    assertEquals(kill.progress.id, previous.id, 'the restarted run went on with the same request')
    assert(kill.progress.rowsDone > previous.rowsDone, `progress moved on after the restart: ${previous.rowsDone} → ${kill.progress.rowsDone}`)
    kills.push(kill)
  }
  runs.push(await spawnCli(s))
  return { kills, ...(await finish(s, runs.at(-1)!, load)) }
}

interface Verdict {
  readonly lines: number
  readonly reads: number[]
  readonly readDuplicates: number
  readonly streamDuplicates: number
  /** Stream records written before the first kill. */
  readonly streamedInFirstRun: number
}

/**
 * Applies the file in order and checks it: complete lines of this table only, re-sent stream
 * records byte-identical, snapshot rows of the one request, after each kill only keys past the
 * stored one, fewer rows than the table; no conflict, no gap, and the result equals the table.
 */
async function verify(s: Scenario, requestId: string, kills: readonly Kill[], load: Load): Promise<Verdict> {
  const lines = readFileSync(s.output, 'utf8').split('\n')
  assertEquals(lines.pop(), '', 'the file ends with a complete line')
  const replica = new Replica()
  const streamed = new Map<string, string>()
  const readIds = new Set<string>()
  const readKeys = new Set<number>()
  const reads = kills.map(() => 0).concat(0)
  let [readDuplicates, streamDuplicates, streamedInFirstRun, segment] = [0, 0, 0, 0]
  for (const [index, line] of lines.entries()) {
    while (segment < kills.length && index >= kills[segment]!.lines) segment++
    const r = JSON.parse(line) as { id: string; operation: string; table_name: string; values: unknown[] }
    assertEquals(r.table_name, `public.${s.table}`, `table of line ${index + 1}`)
    if (r.operation === 'READ') {
      assert(r.id.startsWith(`snapshot:${requestId}:`), `snapshot row ${r.id} belongs to request ${requestId}`)
      const key = Number(r.values[0])
      if (segment > 0) {
        const after = Number(kills[segment - 1]!.progress.lastKey![0])
        assert(key > after, `run ${segment + 1} resumed after key ${after}, yet read ${key}`)
      }
      if (readIds.has(r.id)) readDuplicates++
      readIds.add(r.id)
      readKeys.add(key)
      reads[segment]!++
    } else {
      const earlier = streamed.get(r.id)
      if (earlier === undefined) streamed.set(r.id, line)
      else {
        assertEquals(line, earlier, `re-sent ${r.id} is byte-identical`)
        streamDuplicates++
      }
      if (segment === 0) streamedInFirstRun++
    }
    replica.apply({ id: r.id, operation: r.operation, table: r.table_name, values: r.values })
  }
  assert(
    replica.conflicts.length === 0,
    `${replica.conflicts.length} snapshot rows contradict the records before them: ${replica.conflicts.slice(0, 3).join('; ')}`,
  )
  for (const [i, count] of reads.entries()) assert(i === 0 || count < ROWS, `run ${i + 1} read ${count} rows: it started over`)
  const table = replica.present()
  const gaps = [...table.keys()].filter((id) => id <= ROWS && !load.touched.has(id) && !readKeys.has(id))
  assert(gaps.length === 0, `${gaps.length} rows the load never touched were never read, e.g. ${gaps.slice(0, 5).join(', ')}`)
  await assertEqualsTable(s.sql, s.table, table)
  return { lines: lines.length, reads, readDuplicates, streamDuplicates, streamedInFirstRun }
}

async function cleanUp(s: Scenario, runs: readonly FixtureProcess[], passed: boolean): Promise<void> {
  for (const run of runs) if (!run.exitStatus) await run.kill()
  await dropSlot(s.sql, s.slot).catch(() => {})
  await s.sql.unsafe(`drop table if exists ${s.table}; drop publication if exists ${s.slot}`)
  await s.sql`delete from pg_to_brokers_snapshots where slot = ${s.slot}`.catch(() => {})
  await s.sql.end()
  if (passed) rmSync(s.output, { force: true })
  else console.log(`     output kept for inspection: ${s.output}`)
}

function report(s: Scenario, started: number, kills: readonly Kill[], verdict: Verdict, transactions: number): void {
  console.log(
    `     ${currentRuntime()}: ${ROWS} rows, chunks of ${CHUNK}, ${transactions} concurrent transactions; ` +
      `killed at rows_done ${kills.map((k) => k.progress.rowsDone).join(', ')}; snapshot rows per run ${verdict.reads.join(', ')} ` +
      `(${verdict.readDuplicates} re-read); ${verdict.lines} lines, ${verdict.streamDuplicates} re-sent stream records; ` +
      `${Math.round(performance.now() - started)} ms`,
  )
}

test(
  'snapshot crash: kill -9 of the CLI during an initial snapshot and twice during its resumption; each restart resumes the same request, the applied file equals the table',
  async () => {
    await requireServer(14, 'resuming an interrupted initial snapshot beside the stream')
    const seed = testSeed()
    const s = scenario('initial', seed)
    const runs: FixtureProcess[] = []
    let load: Load | undefined
    let passed = false
    const started = performance.now()
    try {
      await createSnapshotTable(s.sql, s.table, ROWS)
      load = startLoad(s.table, ROWS, mulberry32(seed ^ 0x9e3779b9), { hot: { slot: s.slot, width: 3 * CHUNK } })
      runs.push(await spawnCli(s))
      // During the copy through the slot's exported snapshot, once its first chunk is stored.
      const first = await killWhen(s, runs.at(-1)!, load, 'after the first stored chunk of the copy', (p) => p.rowsDone > 0, 30)
      const requestId = first.progress.id
      // The rest is read beside the stream, between watermarks.
      const { kills, final, transactions } = await killLaterAndFinish(s, runs, load, first)
      assertEquals([final.id, final.kind, final.status], [requestId, 'initial', 'done'], 'the one initial request finished')
      const verdict = await verify(s, requestId, kills, load)
      assertEquals(verdict.streamedInFirstRun, 0, 'nothing was streamed before the first kill: it landed in the copy')
      assert(verdict.reads[0]! >= first.progress.rowsDone, 'the copy wrote at least the rows it stored progress for')
      report(s, started, kills, verdict, transactions)
      passed = true
    } finally {
      await load?.stop().catch(() => {})
      await cleanUp(s, runs, passed)
    }
  },
  { timeoutMs: TIMEOUT_MS },
)

test(
  'snapshot crash: kill -9 of the CLI three times during an incremental snapshot asked for with `pg-to-brokers snapshot`; it resumes, the applied file equals the table',
  async () => {
    await requireServer(14, 'incremental snapshots (logical messages as watermarks)')
    const seed = testSeed()
    const s = scenario('never', seed)
    const runs: FixtureProcess[] = []
    let load: Load | undefined
    let passed = false
    const started = performance.now()
    try {
      await createSnapshotTable(s.sql, s.table, ROWS)
      runs.push(await spawnCli(s))
      const streaming = runs[0]!
      await waitFor(() => / info streaming /.test(streaming.stderr) || streaming.exitStatus !== undefined, 60_000, 'the "streaming" log line')
      load = startLoad(s.table, ROWS, mulberry32(seed ^ 0x9e3779b9), { hot: { slot: s.slot, width: 3 * CHUNK } })
      const command = new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: TEST_URL }, [
        'snapshot',
        '--slot',
        s.slot,
        '--publication',
        s.slot,
        '--tables',
        s.table,
      ])
      assertEquals((await command.waitForExit(60_000)).code, 0, `the snapshot command: ${command.stderr.trim()}`)
      const requestId = /^(\d+)\t/m.exec(command.stdout)?.[1]
      assert(requestId !== undefined, `the snapshot command prints the request id: ${JSON.stringify(command.stdout)}`)
      const first = await killWhen(s, streaming, load, 'after the first stored chunk', (p) => p.rowsDone > 0, 100)
      assertEquals(first.progress.id, requestId)
      const { kills, final, transactions } = await killLaterAndFinish(s, runs, load, first)
      assertEquals([final.id, final.kind, final.status], [requestId, 'incremental', 'done'], 'the one request finished')
      const verdict = await verify(s, requestId, kills, load)
      report(s, started, kills, verdict, transactions)
      passed = true
    } finally {
      await load?.stop().catch(() => {})
      await cleanUp(s, runs, passed)
    }
  },
  { timeoutMs: TIMEOUT_MS },
)
