// The npm bin on Node: it re-executes itself once (process.execve, same PID) with the V8 flags that
// bound the young generation, leaves flags the user chose alone, and the CLI's signals, clean stop
// and exit codes are the same as without it. The Node spawned is PG_TO_BROKERS_TEST_NODE, else
// `node` on PATH; without process.execve (Node before 22.15) the bin must run as started.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import process from 'node:process'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { FixtureProcess, REPO_ROOT } from './process.ts'
import { dropSlot, sqlClient, TEST_URL, uniqueName, waitFor, waitForStreaming } from './support.ts'

const BIN = `${REPO_ROOT}bin/pg-to-brokers.mjs`
const FLAG = '--max-semi-space-size=1'
const NODE = process.env.PG_TO_BROKERS_TEST_NODE || 'node'
/** Prints the process's PID and V8 flags before the bin runs (so once more after a re-exec). */
const PROBE = `data:text/javascript,console.error("probe "+process.pid+" "+JSON.stringify(process.execArgv))`

const nodeHasExecve = execFileSync(NODE, ['-p', 'typeof process.execve'], { encoding: 'utf8' }).trim() === 'function'

function bin(args: string[], env: Record<string, string> = {}): FixtureProcess {
  return new FixtureProcess({ command: NODE, args: ['--import', PROBE, BIN] }, { PG_TO_BROKERS_POSTGRES_URL: TEST_URL, ...env }, args)
}

/** The probe lines: one per (re-)executed image of the process, in order. */
function probes(stderr: string): { pid: number; execArgv: string[] }[] {
  return [...stderr.matchAll(/^probe (\d+) (\[.*\])$/gm)].map((m) => ({ pid: Number(m[1]), execArgv: JSON.parse(m[2]!) as string[] }))
}

test('node bin: re-executes once with the flag; SIGTERM still stops cleanly, confirming the slot, exit 0', async () => {
  const sql = sqlClient()
  const table = uniqueName('nflags')
  const slot = uniqueName('s')
  try {
    await sql.unsafe(`create table ${table} (id int primary key)`)
    const run = bin(['run', '--slot', slot, '--publication', slot, '--tables', table])
    await waitForStreaming(sql, slot)
    const cmdline = readFileSync(`/proc/${run.pid}/cmdline`, 'utf8').split('\0')
    assertEquals(cmdline.includes(FLAG), nodeHasExecve, `the streaming process's command line ${JSON.stringify(cmdline)} (execve: ${nodeHasExecve})`)
    assertEquals(
      probes(run.stderr).map((p) => [p.pid, p.execArgv.includes(FLAG)]),
      nodeHasExecve
        ? [
            [run.pid, false],
            [run.pid, true],
          ]
        : [[run.pid, false]],
    )
    await sql.unsafe(`insert into ${table} values (1), (2)`)
    const [inserted] = await sql<{ lsn: string }[]>`select pg_current_wal_insert_lsn()::text as lsn`
    await run.waitForLine(/"values":\[2\]/)
    run.signal('SIGTERM')
    const status = await run.waitForExit()
    assertEquals(status.code, 0, `exit code (stderr: ${run.stderr})`)
    const [slotRow] = await sql<
      { ok: boolean }[]
    >`select confirmed_flush_lsn >= ${inserted!.lsn}::pg_lsn as ok from pg_replication_slots where slot_name = ${slot}`
    assertEquals(slotRow!.ok, true, 'the clean stop confirmed the inserts')
    await dropSlot(sql, slot)
  } finally {
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${slot}`)
    await sql.end()
  }
})

test('node bin: SIGINT reaches the CLI once (a clean stop, not the second-signal exit 130)', async () => {
  const sql = sqlClient()
  const slot = uniqueName('s')
  try {
    const run = bin(['run', '--slot', slot, '--publication', slot])
    await waitForStreaming(sql, slot)
    await waitFor(() => probes(run.stderr).length === (nodeHasExecve ? 2 : 1), 10_000, 'the re-executed process')
    run.signal('SIGINT')
    const status = await run.waitForExit()
    assertEquals(status.code, 0, `exit code (stderr: ${run.stderr})`)
    await dropSlot(sql, slot)
  } finally {
    await sql.unsafe(`drop publication if exists ${slot}`)
    await sql.end()
  }
})

test("node bin: the CLI's exit code comes through; no re-exec for --version or when the user set a semi-space size", async () => {
  const invalid = bin(['run', '--slot', 'Bad-Slot'])
  assertEquals((await invalid.waitForExit(30_000)).code, 2, `exit code (stderr: ${invalid.stderr})`)
  assert(invalid.stderr.includes('postgres.slot'), `stderr: ${invalid.stderr}`)
  assertEquals(probes(invalid.stderr).length, nodeHasExecve ? 2 : 1, `probes in ${invalid.stderr}`)

  const version = bin(['--version'])
  assertEquals((await version.waitForExit(30_000)).code, 0, `exit code (stderr: ${version.stderr})`)
  assertEquals(probes(version.stderr).length, 1, `probes in ${version.stderr}`)

  const own = bin(['run', '--slot', 'Bad-Slot'], { NODE_OPTIONS: '--max-semi-space-size=4' })
  assertEquals((await own.waitForExit(30_000)).code, 2, `exit code (stderr: ${own.stderr})`)
  assertEquals(
    probes(own.stderr).map((p) => p.execArgv.includes(FLAG)),
    [false],
    `probes in ${own.stderr}`,
  )
})
