/**
 * @module What the harness tells a consumer process (one JSON object in PGTB_BENCH_JOB) and what the
 * process reports back (one JSON file). Runs unchanged on Node, Deno and Bun.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import process from 'node:process'

export interface Job {
  /** postgres:// URL; for a unix socket, the host comes from PGHOST (postgres.js reads it when the URL has none). */
  readonly url: string
  readonly slot: string
  readonly publication: string
  /** The end LSN ("X/Y") of the workload's last transaction: stop once it is confirmed. */
  readonly targetLsn: string
  /** Rows (changes) the slot holds up to targetLsn: consumers that count rows stop there. */
  readonly expectedRows: number
  /** Where to write the Report. */
  readonly report: string
  /** Pipeline runner only: record commit→acknowledgement latency per transaction, stop on SIGTERM. */
  readonly latency?: boolean
  /** Pipeline runner only: BatchOptions.maxLatencyMs, when not the default. */
  readonly batchLatencyMs?: number
}

export interface Report {
  readonly rows: number
  /** From the start of streaming (as the consumer saw it) to the last row delivered, in ms. */
  readonly streamingMs: number
  /** VmHWM of the consumer process at the end, in bytes. */
  readonly peakRss: number
  /** process.memoryUsage() at the end, in bytes: where the resident memory went. */
  readonly memory?: Readonly<Record<string, number>>
  /** Commit→acknowledgement latencies in ms, one per transaction (latency jobs only). */
  readonly latenciesMs?: readonly number[]
}

export function readJob(): Job {
  const text = process.env['PGTB_BENCH_JOB']
  if (!text) throw new Error('PGTB_BENCH_JOB is not set: this script is started by bench/run.ts')
  return JSON.parse(text) as Job
}

export function writeReport(job: Job, report: Report): void {
  writeFileSync(job.report, JSON.stringify(report))
}

/** Peak resident memory of this process, read where the harness reads it for every consumer. */
export function selfPeakRss(): number {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))
  return match ? Number(match[1]) * 1024 : 0
}

/** The runtime's view of this process's memory (heap, external buffers), where it has one. */
export function memoryUsage(): Record<string, number> {
  return { ...process.memoryUsage() }
}

/** Wall-clock milliseconds since the Unix epoch, sub-millisecond: comparable with PostgreSQL's commit timestamps. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now()
}

/** "X/Y" → bigint, without importing the project (the comparison runners must not load it). */
export function parseLsnText(text: string): bigint {
  const [high, low] = text.split('/')
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`)
}
