/**
 * @module Snapshot progress a person can follow: on a terminal one line redrawn in place (rows done
 * of the estimate, percent, rate, time left); elsewhere a log line every 10 seconds and one per
 * finished table.
 */
import type { Logger } from '../logger.ts'
import { stderrIsTerminal, writeStderr } from '../runtime/io.ts'
import type { SnapshotProgressMode } from './options.ts'

/** What the snapshot reports as it goes; the display decides what to show and when. */
export interface ProgressDisplay {
  /** A table's reading begins (or resumes: `rowsDone` rows were delivered before); `estimate` null, 0 or negative when unknown. */
  tableStarted(table: string, estimate: number | null, rowsDone?: number): void
  /** `n` more rows of `table` were delivered. */
  rows(table: string, n: number): void
  tableDone(table: string): void
  /** Ends the display (a bar gets its line ended); call once, after the last table. */
  close(): void
}

/** Where the bar goes: stderr, unless a test gives its own. */
export interface ProgressOutput {
  write(text: string): void
  isTerminal(): boolean
}

/** The bar is redrawn at most this often (4 times a second). */
export const BAR_REDRAW_MS = 250
/** A progress line is logged at most this often per table. */
export const LINE_INTERVAL_MS = 10_000

const STDERR: ProgressOutput = { write: writeStderr, isTerminal: stderrIsTerminal }
const BAR_WIDTH = 20

interface TableProgress {
  readonly table: string
  readonly estimate: number | undefined
  /** Rows delivered by earlier runs of a resumed snapshot: counted as done, not in the rate. */
  readonly resumedAt: number
  readonly startedAt: number
  done: number
  shownAt: number
}

/**
 * The display for `mode`: 'auto' is a bar on a terminal and lines otherwise, 'off' shows nothing.
 * `now` (milliseconds) is the clock; tests give their own, with their own `output`.
 */
export function createProgressDisplay(
  mode: SnapshotProgressMode,
  logger: Logger,
  now: () => number = Date.now,
  output: ProgressOutput = STDERR,
): ProgressDisplay {
  if (mode === 'off') return { tableStarted() {}, rows() {}, tableDone() {}, close() {} }
  const bar = mode === 'bar' || (mode === 'auto' && output.isTerminal())
  return bar ? barDisplay(output, now) : lineDisplay(logger, now)
}

/** One line, rewritten in place with `\r`, showing every table being read. */
function barDisplay(output: ProgressOutput, now: () => number): ProgressDisplay {
  const tables = new Map<string, TableProgress>()
  let drawnAt = Number.NEGATIVE_INFINITY
  let drawn = false
  const draw = () => {
    drawnAt = now()
    drawn = tables.size > 0
    output.write(`\r${[...tables.values()].map((progress) => describe(progress, drawnAt)).join(' | ')}\x1b[K`)
  }
  return {
    tableStarted(table, estimate, rowsDone = 0) {
      tables.set(table, newProgress(table, estimate, rowsDone, now()))
      draw()
    },
    rows(table, n) {
      const progress = tables.get(table)
      if (progress === undefined) return
      progress.done += n
      if (now() - drawnAt >= BAR_REDRAW_MS) draw()
    },
    tableDone(table) {
      const progress = tables.get(table)
      if (progress === undefined) return
      tables.delete(table)
      // The finished table keeps a line of its own; the others go on below it.
      output.write(`\r${finished(progress, now())}\x1b[K\n`)
      drawn = false
      if (tables.size > 0) draw()
    },
    close() {
      if (drawn) output.write('\n')
      drawn = false
      tables.clear()
    },
  }
}

/** Log lines: every LINE_INTERVAL_MS per table while rows arrive, and one when a table is done. */
function lineDisplay(logger: Logger, now: () => number): ProgressDisplay {
  const tables = new Map<string, TableProgress>()
  return {
    tableStarted(table, estimate, rowsDone = 0) {
      const progress = newProgress(table, estimate, rowsDone, now())
      tables.set(table, progress)
      logger.info('snapshot of table started', { table, rowsDone: rowsDone > 0 ? rowsDone : undefined, rowsEstimate: known(estimate) })
    },
    rows(table, n) {
      const progress = tables.get(table)
      if (progress === undefined) return
      progress.done += n
      const at = now()
      if (at - progress.shownAt < LINE_INTERVAL_MS) return
      progress.shownAt = at
      logger.info(`snapshot progress: ${describe(progress, at)}`, { table })
    },
    tableDone(table) {
      const progress = tables.get(table)
      if (progress === undefined) return
      tables.delete(table)
      logger.info(`snapshot of table done: ${finished(progress, now())}`, { table, rows: progress.done })
    },
    close() {
      tables.clear()
    },
  }
}

function newProgress(table: string, estimate: number | null, rowsDone: number, at: number): TableProgress {
  return { table, estimate: known(estimate), resumedAt: rowsDone, startedAt: at, done: rowsDone, shownAt: at }
}

// Zero is no estimate either: a table never analysed may show reltuples 0 (before PostgreSQL 14).
const known = (estimate: number | null): number | undefined => (estimate === null || estimate <= 0 ? undefined : Math.round(estimate))

/** `public.orders [#####---------------] 12,000/50,000 rows 24% 3,000 rows/s ETA 13s`; without an estimate, rows and rate only. */
function describe(progress: TableProgress, at: number): string {
  const rate = rateOf(progress, at)
  const speed = rate === undefined ? '' : ` ${group(Math.round(rate))} rows/s`
  const estimate = progress.estimate
  if (estimate === undefined) return `${progress.table} ${group(progress.done)} rows${speed}`
  // reltuples is an estimate: a table larger than it shows 99% until it is done, with no time left.
  const fraction = Math.min(progress.done / estimate, 0.99)
  const filled = Math.floor(fraction * BAR_WIDTH)
  const meter = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`
  const left = estimate - progress.done
  const eta = rate !== undefined && rate > 0 && left > 0 ? ` ETA ${duration(left / rate)}` : ''
  return `${progress.table} ${meter} ${group(progress.done)}/${group(estimate)} rows ${Math.floor(fraction * 100)}%${speed}${eta}`
}

/** `public.orders 50,000 rows in 17s (2,941 rows/s)` */
function finished(progress: TableProgress, at: number): string {
  const rate = rateOf(progress, at)
  const speed = rate === undefined ? '' : ` (${group(Math.round(rate))} rows/s)`
  return `${progress.table} ${group(progress.done)} rows in ${duration((at - progress.startedAt) / 1000)}${speed}`
}

/** Rows per second since this run started the table; undefined before any time passed. */
function rateOf(progress: TableProgress, at: number): number | undefined {
  const seconds = (at - progress.startedAt) / 1000
  return seconds > 0 ? (progress.done - progress.resumedAt) / seconds : undefined
}

/** 1234567 → "1,234,567", the same in every runtime and locale. */
function group(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}

/** 13 → "13s", 185 → "3m05s", 3725 → "1h02m". */
function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}
