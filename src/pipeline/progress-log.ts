/**
 * @module The periodic progress line while streaming: rows and transactions delivered since the
 * last line, their rate, the confirmed position and the lag behind the server's WAL end, written
 * even when nothing was delivered, so a quiet log means idle rather than stuck.
 */
import type { Logger } from '../logger.ts'
import { formatLsn, type Lsn } from '../pg/lsn.ts'

/** The positions a line shows: what the slot may advance to, and the server's WAL end as last seen. */
export interface ProgressPositions {
  /** The position confirmed to the server; 0n while none is known yet. */
  readonly confirmed: Lsn
  /** The server's WAL end from its latest keepalive (never behind `confirmed`). */
  readonly walEnd: Lsn
}

/** Above this many delivered entries the queue's front is cut off, so it never grows with uptime. */
const COMPACT_AT = 1024

/**
 * Counts what reaches the writer and what the writer made durable. The hot path pays one increment
 * per row; the rest happens per transaction (`commit`) and per durable batch (`durable`).
 */
export class ProgressLog {
  readonly #logger: Logger
  readonly #fields: Readonly<Record<string, string>>
  readonly #positions: () => ProgressPositions
  #added = 0
  #committed = 0
  /** Transactions handed to the writer and not yet durable: end position and rows added by then. */
  readonly #endLsns: Lsn[] = []
  readonly #rowsAt: number[] = []
  #head = 0
  #deliveredRows = 0
  #deliveredTransactions = 0
  #shownRows = 0
  #shownTransactions = 0
  #shownAt = 0
  #timer: ReturnType<typeof setInterval> | undefined

  /** `fields` go on every line (the slot's name); `positions` is read when a line is written. */
  constructor(logger: Logger, fields: Readonly<Record<string, string>>, positions: () => ProgressPositions) {
    this.#logger = logger
    this.#fields = fields
    this.#positions = positions
  }

  /** A row was handed to the writer. */
  row(): void {
    this.#added++
  }

  /** A transaction ending at `endLsn` was handed to the writer; one without rows is not counted. */
  commit(endLsn: Lsn): void {
    if (this.#added === this.#committed) return
    this.#committed = this.#added
    this.#endLsns.push(endLsn)
    this.#rowsAt.push(this.#added)
  }

  /** Everything up to `lsn` is durable (the batcher's confirmation). */
  durable(lsn: Lsn): void {
    let head = this.#head
    while (head < this.#endLsns.length && this.#endLsns[head]! <= lsn) {
      this.#deliveredRows = this.#rowsAt[head]!
      this.#deliveredTransactions++
      head++
    }
    this.#head = head
    if (head >= COMPACT_AT && head * 2 >= this.#endLsns.length) {
      this.#endLsns.splice(0, head)
      this.#rowsAt.splice(0, head)
      this.#head = 0
    }
  }

  /** Writes a line every `intervalMs` until `stop()`; 0 writes none. */
  start(intervalMs: number): void {
    this.#shownAt = performance.now()
    if (intervalMs > 0) this.#timer = setInterval(() => this.write(), intervalMs)
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  /** Writes one line: what was delivered since the last one, the rate, the confirmed position and the lag. */
  write(): void {
    const now = performance.now()
    const rows = this.#deliveredRows - this.#shownRows
    const transactions = this.#deliveredTransactions - this.#shownTransactions
    const seconds = (now - this.#shownAt) / 1000
    this.#shownRows = this.#deliveredRows
    this.#shownTransactions = this.#deliveredTransactions
    this.#shownAt = now
    const { confirmed, walEnd } = this.#positions()
    const known = confirmed > 0n
    this.#logger.info('progress', {
      ...this.#fields,
      rows,
      transactions,
      rowsPerSecond: seconds > 0 ? Math.round((rows / seconds) * 10) / 10 : 0,
      inFlightRows: this.#added - this.#deliveredRows,
      confirmed: known ? formatLsn(confirmed) : undefined,
      lagBytes: known ? Number(walEnd > confirmed ? walEnd - confirmed : 0n) : undefined,
    })
  }
}
