/**
 * Standby: two CLI processes for one slot. The second waits (it holds no walsender), the first is
 * SIGKILLed mid-workload, the second takes over within seconds. Across both output files every
 * committed change arrived at least once, each key's first occurrences in commit order, and every
 * duplicate is a byte-identical re-send with the same record id.
 */
import { readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type postgres from 'postgres'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { describeExit, FixtureProcess, REPO_ROOT, sleep } from './process.ts'
import { dropSlot, sqlClient, TEST_URL, uniqueName, waitFor } from './support.ts'

const CLI = `${REPO_ROOT}src/cli/entry.ts`
const TAKEOVER_LIMIT_MS = 8_000
const STREAMING = /\binfo streaming\b/
const WAITING = /\binfo standby: replication slot is in use by/

function standby(slot: string, output: string): FixtureProcess {
  return new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: TEST_URL, PG_TO_BROKERS_STANDBY: 'true' }, [
    'run',
    '--slot',
    slot,
    '--publication',
    slot,
    '--file',
    output,
    '--batch-size',
    '100',
  ])
}

function stderrShows(run: FixtureProcess, pattern: RegExp): () => boolean {
  return () => {
    if (run.exitStatus) throw new Error(`PID ${run.pid} exited (${describeExit(run.exitStatus)}); stderr: ${run.stderr.trim()}`)
    return pattern.test(run.stderr)
  }
}

/** Commits single- and multi-row transactions (INSERT of new keys, UPDATE v+1 of known ones) until `stop()` is true; returns each key's last v. */
async function workload(sql: postgres.Sql, table: string, stop: () => boolean): Promise<Map<number, number>> {
  const version = new Map<number, number>()
  for (let n = 0; !stop() || n < 50; n++) {
    const keys = [...new Set(Array.from({ length: 1 + (n % 7) }, (_, i) => 1 + ((n * 13 + i * 7) % 400)))]
    await sql.begin(async (tx) => {
      for (const key of keys) {
        const v = (version.get(key) ?? 0) + 1
        if (v === 1) await tx.unsafe(`insert into ${table} (id, v) values ($1, 1)`, [key])
        else await tx.unsafe(`update ${table} set v = $2 where id = $1`, [key, v])
      }
    })
    for (const key of keys) version.set(key, (version.get(key) ?? 0) + 1)
    await sleep(3)
  }
  return version
}

/** Granted advisory locks keyed on the slot (pg_locks shows a bigint key's low 32 bits as objid). */
async function leases(sql: postgres.Sql, slot: string): Promise<number> {
  const [row] = await sql<
    { n: number }[]
  >`select count(*)::int as n from pg_locks where locktype = 'advisory' and granted and objid = hashtext(${'pg_to_brokers:' + slot})::oid`
  return row?.n ?? -1
}

/** Checks both files together (the first process's output comes first); returns line and duplicate counts. */
function verify(paths: readonly string[], finalV: Map<number, number>): { lines: number; duplicates: number } {
  const firstById = new Map<string, string>()
  const lastV = new Map<number, number>()
  let lines = 0
  for (const path of paths) {
    let text = ''
    try {
      text = readFileSync(path, 'utf8')
    } catch {
      /* a run that never streamed has no file */
    }
    for (const line of text.split('\n').filter((l) => l !== '')) {
      lines++
      const record = JSON.parse(line) as { id: string; operation: string; values: number[] }
      const earlier = firstById.get(record.id)
      if (earlier !== undefined) {
        assertEquals(line, earlier, `re-sent record ${record.id} is byte-identical`)
        continue
      }
      firstById.set(record.id, line)
      if (record.operation === 'MESSAGE') continue
      const [key, v] = [record.values[0]!, record.values[1]!]
      assertEquals(v, (lastV.get(key) ?? 0) + 1, `key ${key}: first occurrences in commit order without gaps (record ${record.id})`)
      lastV.set(key, v)
    }
  }
  const missing = [...finalV].filter(([k, v]) => lastV.get(k) !== v)
  assert(
    missing.length === 0,
    `${missing.length} keys lack committed changes, e.g. ${missing
      .slice(0, 3)
      .map(([k, v]) => `key ${k}: got v=${lastV.get(k) ?? 0}, committed v=${v}`)
      .join('; ')}`,
  )
  return { lines, duplicates: lines - firstById.size }
}

test('standby: a second process waits for the slot and takes over within seconds after kill -9; nothing lost, duplicates identical', async () => {
  const sql = sqlClient()
  const table = uniqueName('standby')
  const slot = uniqueName('s')
  const outputs = [join(tmpdir(), `pgtb-${slot}-a.jsonl`), join(tmpdir(), `pgtb-${slot}-b.jsonl`)] as const
  let active: FixtureProcess | undefined
  let waiting: FixtureProcess | undefined
  try {
    await sql.unsafe(`create table ${table} (id int primary key, v int not null)`)
    await sql.unsafe(`create publication ${slot} for table ${table}`)
    await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput')`
    active = standby(slot, outputs[0])
    await waitFor(stderrShows(active, STREAMING), 30_000, 'the first process to stream')
    waiting = standby(slot, outputs[1])
    await waitFor(stderrShows(waiting, WAITING), 30_000, 'the second process to wait')

    let done = false
    const committed = workload(sql, table, () => done)
    await sleep(1500)
    assert(!STREAMING.test(waiting.stderr), 'the standby did not stream while the slot was in use')
    assertEquals((waiting.stderr.match(WAITING) ?? []).length, 1, 'the standby logged its waiting once')
    const status = await active.kill()
    assertEquals(status.signal, 'SIGKILL', 'the active process ended by SIGKILL')
    const killedAt = Date.now()
    await waitFor(stderrShows(waiting, STREAMING), TAKEOVER_LIMIT_MS, `the standby to take over within ${TAKEOVER_LIMIT_MS} ms`)
    const takeoverMs = Date.now() - killedAt
    await sleep(1500)
    done = true
    const finalV = await committed

    const [{ target }] = (await sql`select pg_current_wal_insert_lsn()::text as target`) as unknown as [{ target: string }]
    await waitFor(
      async () => {
        await sql`select txid_current()` // a little WAL, so a keepalive carries the slot past the target
        const [row] = await sql`select confirmed_flush_lsn >= ${target}::pg_lsn as done from pg_replication_slots where slot_name = ${slot}`
        return row?.done === true
      },
      30_000,
      `the standby to confirm up to ${target}`,
    )
    waiting.signal('SIGTERM')
    assertEquals((await waiting.waitForExit()).code, 0, `the standby stops cleanly (stderr: ${waiting.stderr.trim()})`)
    const verdict = verify(outputs, finalV)
    console.log(
      `     took over ${takeoverMs} ms after kill -9; ${finalV.size} keys; ${verdict.lines} records across both files, ` +
        `${verdict.duplicates} duplicates (all byte-identical)`,
    )
  } finally {
    if (active && !active.exitStatus) await active.kill()
    if (waiting && !waiting.exitStatus) await waiting.kill()
    await dropSlot(sql, slot).catch(() => {})
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${slot}`)
    await sql.end()
    for (const path of outputs) rmSync(path, { force: true })
  }
})

test('standby: a stopped standby that never streamed exits 0 and releases its lease', async () => {
  const sql = sqlClient()
  const slot = uniqueName('s')
  const output = join(tmpdir(), `pgtb-${slot}.jsonl`)
  const first = standby(slot, output)
  try {
    await waitFor(stderrShows(first, STREAMING), 30_000, 'the first process to stream')
    const second = standby(slot, `${output}.b`)
    await waitFor(stderrShows(second, WAITING), 30_000, 'the second process to wait')
    assertEquals(await leases(sql, slot), 1, 'the active process holds the lease while it streams')
    second.signal('SIGTERM')
    assertEquals((await second.waitForExit()).code, 0, `the waiting standby stops cleanly (stderr: ${second.stderr.trim()})`)
    first.signal('SIGTERM')
    assertEquals((await first.waitForExit()).code, 0, 'the active one stops cleanly')
    assertEquals(await leases(sql, slot), 0, 'no advisory lock stays behind')
  } finally {
    if (!first.exitStatus) await first.kill()
    await dropSlot(sql, slot).catch(() => {})
    await sql.unsafe(`drop publication if exists ${slot}`)
    await sql.end()
    rmSync(output, { force: true })
    rmSync(`${output}.b`, { force: true })
  }
})
