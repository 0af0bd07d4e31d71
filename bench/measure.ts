/**
 * @module Runs one consumer and measures it from outside, the same way for every consumer: time
 * from the moment its walsender holds the slot to the moment it exits (or, for a consumer that
 * runs until stopped, to the moment the slot is confirmed past the end, when it gets SIGTERM); CPU
 * of its walsender and of its own process tree (/proc/<pid>/stat); resident memory sampled from
 * /proc/<pid>/status.
 */
import { spawn } from 'node:child_process'
import { openSync, closeSync, readFileSync, rmSync } from 'node:fs'
import type postgres from 'postgres'
import type { Command } from './consumers.ts'
import { activePid, confirmedPast } from './db.ts'
import { descendants, loadAverage, parseStatCpu, readCpu, readMemory } from './proc.ts'
import type { Report } from './runners/job.ts'

export interface Measurement {
  readonly exitCode: number | null
  /** Walsender holds the slot → consumer exited (or slot confirmed past `stopAtLsn`), in seconds. */
  readonly seconds: number
  /** Process start → consumer exited, in seconds (adds connection set-up and runtime start-up). */
  readonly wallSeconds: number
  readonly walsenderCpu: number
  /** CPU of the consumer and everything it started, in seconds. */
  readonly consumerCpu: number
  /** Largest sum of VmRSS over the consumer's processes, or its own VmHWM if larger, in bytes. */
  readonly peakRss: number
  /** [seconds since streaming began, summed VmRSS in bytes], every SAMPLE_MS. */
  readonly rssSeries: readonly (readonly [number, number])[]
  readonly load1: number
  /** What the consumer reported about itself, when it is one of our runner scripts. */
  readonly report: Report | undefined
  readonly stderr: string
}

const SAMPLE_MS = 25
const SLOT_POLL_MS = 5

/** Process groups of the consumers running now, so that an interrupted run can stop them. */
const running = new Set<number>()

/** Kills every consumer still running (they lead process groups of their own, so ^C does not reach them). */
export function stopConsumers(): void {
  for (const pid of running) killGroup(pid)
}

/**
 * Runs `command` under `sh`, which saves its own /proc stat once the consumer exited: its cutime
 * and cstime then hold the consumer's CPU, children included, to the tick. With `stopAtLsn`, the
 * consumer gets SIGTERM once the slot's confirmed flush LSN reaches it; its clean stop (flush,
 * confirm, exit) still counts to its CPU but not to its time. `stopAtLsn` may be a getter, for a
 * position known only while the consumer runs (undefined until then).
 */
export async function measure(
  sql: postgres.Sql,
  slot: string,
  command: Command,
  reportPath: string,
  timeoutMs: number,
  stopAtLsn?: string | (() => string | undefined),
): Promise<Measurement> {
  const statPath = `${reportPath}.stat`
  rmSync(reportPath, { force: true })
  const devNull = openSync('/dev/null', 'w')
  const started = performance.now()
  const child = spawn('sh', ['-c', '"$@"; rc=$?; cat /proc/$$/stat > "$PGTB_BENCH_STAT"; exit $rc', 'sh', command.file, ...command.args], {
    env: { ...process.env, ...command.env, PGTB_BENCH_STAT: statPath },
    stdio: ['ignore', devNull, 'pipe'],
    detached: true,
  })
  closeSync(devNull)
  running.add(child.pid!)
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  let alive = true
  void exited.then(() => {
    alive = false
    running.delete(child.pid!)
  })
  const timer = setTimeout(() => killGroup(child.pid!), timeoutMs)

  const load1 = loadAverage()
  let walsender: number | undefined
  let streamingAt = 0
  while (alive && walsender === undefined) {
    walsender = await activePid(sql, slot)
    if (walsender === undefined) await sleep(SLOT_POLL_MS)
  }
  streamingAt = performance.now()
  let walsenderCpu = 0
  let peakRss = 0
  const rssSeries: [number, number][] = []
  const sample = () => {
    const cpu = walsender === undefined ? undefined : readCpu(walsender)
    if (cpu) walsenderCpu = cpu.self
    let rss = 0
    for (const pid of descendants(child.pid!)) {
      const memory = readMemory(pid)
      if (!memory) continue
      rss += memory.rss
      peakRss = Math.max(peakRss, memory.hwm)
    }
    peakRss = Math.max(peakRss, rss)
    if (rss > 0) rssSeries.push([(performance.now() - streamingAt) / 1000, rss])
  }
  let ended: number | undefined
  while (alive) {
    sample()
    const stopAt = typeof stopAtLsn === 'function' ? stopAtLsn() : stopAtLsn
    if (stopAt !== undefined && ended === undefined && (await confirmedPast(sql, slot, stopAt))) {
      ended = performance.now()
      // The consumer itself, not the sh around it, which must live on to save its stat.
      const consumer = descendants(child.pid!)[0]
      if (consumer !== undefined) signal(consumer, 'SIGTERM')
    }
    await Promise.race([exited, sleep(SAMPLE_MS)])
  }
  ended ??= performance.now()
  const exitCode = await exited
  clearTimeout(timer)
  const lastWalsenderCpu = walsender === undefined ? undefined : readCpu(walsender)
  if (lastWalsenderCpu) walsenderCpu = lastWalsenderCpu.self
  const report = readJson<Report>(reportPath)
  return {
    exitCode,
    seconds: (ended - streamingAt) / 1000,
    wallSeconds: (ended - started) / 1000,
    walsenderCpu,
    consumerCpu: consumerCpu(statPath),
    peakRss: Math.max(peakRss, report?.peakRss ?? 0),
    rssSeries,
    load1,
    report,
    stderr,
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function consumerCpu(statPath: string): number {
  try {
    return parseStatCpu(readFileSync(statPath, 'utf8')).children
  } catch {
    return Number.NaN
  } finally {
    rmSync(statPath, { force: true })
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name)
  } catch {
    // Already gone.
  }
}

/** Kills the process group of a consumer we started (spawned detached, so it leads its own group). */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // Already gone.
  }
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T
  } catch {
    return undefined
  }
}
