/**
 * @module Commit→acknowledgement latency under a steady, moderate load. A load generator commits
 * small transactions at a fixed rate (synchronous_commit = on, PostgreSQL's default, so each
 * commit is flushed and wakes the walsender at once); the pipeline runner notes, for each
 * transaction, when the StandbyStatusUpdate confirming it was sent (PipelineOptions.onFlushed)
 * minus the server's commit timestamp. Both clocks are this machine's wall clock.
 */
import type postgres from 'postgres'
import type { Command } from './consumers.ts'
import { connect, createSlot, dropSlot } from './db.ts'
import { measure, sleep, type Measurement } from './measure.ts'

export interface LoadShape {
  readonly rowsPerSecond: number
  readonly transactionsPerSecond: number
  readonly seconds: number
}

export interface LatencyResult {
  readonly label: string
  readonly transactions: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly measurement: Measurement
  /** Transactions the generator committed later than scheduled by more than one interval (it fell behind). */
  readonly lateCommits: number
}

/** The row of the latency table for one consumer's latencies (ms, in any order). */
export function latencyResult(label: string, latenciesMs: readonly number[], measurement: Measurement, lateCommits: number): LatencyResult {
  const latencies = [...latenciesMs].sort((a, b) => a - b)
  return {
    label,
    transactions: latencies.length,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    max: latencies[latencies.length - 1] ?? Number.NaN,
    measurement,
    lateCommits,
  }
}

/** Rows the load commits, in total. */
export function loadRows(shape: LoadShape): number {
  return Math.round(shape.transactionsPerSecond * shape.seconds) * rowsPerTransaction(shape)
}

/**
 * Runs one latency measurement: a fresh slot, the runner started on it, then the load.
 * `command` must run the pipeline runner with `latency: true` and `expectedRows: loadRows(shape)`.
 */
export async function measureLatency(
  url: string,
  admin: postgres.Sql,
  slot: string,
  label: string,
  command: Command,
  reportPath: string,
  shape: LoadShape,
): Promise<LatencyResult> {
  await createSlot(admin, slot)
  try {
    const running = measure(admin, slot, command, reportPath, (shape.seconds + 120) * 1000)
    await waitForWalsender(admin, slot)
    const lateCommits = await generateLoad(url, shape)
    const measurement = await running
    return latencyResult(label, measurement.report?.latenciesMs ?? [], measurement, lateCommits)
  } finally {
    await dropSlot(admin, slot)
  }
}

function rowsPerTransaction(shape: LoadShape): number {
  return Math.max(1, Math.round(shape.rowsPerSecond / shape.transactionsPerSecond))
}

/** Commits on a fixed schedule (not "sleep after each"), so the rate does not drift with commit time; resolves with the late commits. */
export async function generateLoad(url: string, shape: LoadShape): Promise<number> {
  const sql = connect(url)
  const rows = rowsPerTransaction(shape)
  const intervalMs = 1000 / shape.transactionsPerSecond
  const total = Math.round(shape.transactionsPerSecond * shape.seconds)
  let late = 0
  try {
    await sql.reserve().then(async (connection) => {
      await connection`set synchronous_commit = on`
      const start = performance.now()
      for (let i = 0; i < total; i++) {
        const due = start + i * intervalMs
        const wait = due - performance.now()
        if (wait > 0) await sleep(wait)
        else if (-wait > intervalMs) late++
        await connection`insert into bench(account, amount, note)
          select (random() * 10000)::int, round((random() * 100000)::numeric, 2), 'latency ' || g from generate_series(1, ${rows}::int) g`
      }
      connection.release()
    })
  } finally {
    await sql.end()
  }
  return late
}

/** Resolves once a walsender streams `slot`. */
export async function waitForWalsender(sql: postgres.Sql, slot: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const rows = await sql`select 1 from pg_replication_slots s join pg_stat_replication r on r.pid = s.active_pid where s.slot_name = ${slot}`
    if (rows.length > 0) return
    await sleep(50)
  }
  throw new Error(`no walsender started streaming slot ${slot} within 30 s`)
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!
}
