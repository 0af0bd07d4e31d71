/** @module How far delivery is behind in time: the age of the oldest committed transaction read but not yet delivered. */
import type { Lsn } from '../pg/lsn.ts'

/** Milliseconds between the Unix epoch and PostgreSQL's (2000-01-01 UTC). */
const POSTGRES_EPOCH_MS = 946_684_800_000

/**
 * Fed by the pipeline: the commit time of each change read, each transaction's end, each flushed
 * position. The lag is now − the commit time of the oldest transaction read and not yet delivered,
 * and 0 once everything read was delivered. Not "now − the last delivered commit": on a quiet
 * database that grows while nothing is behind, and a transaction after a long pause would look late.
 */
export class CommitClock {
  /** Read transactions not yet flushed, oldest first: their end position and commit time (ms). */
  #waiting: { endLsn: Lsn; commitMs: number }[] = []
  /** Index of the oldest entry of #waiting still waiting (a queue without shifting the array on every flush). */
  #head = 0
  #current: bigint | null = null

  /** A change of the transaction being read; `commitTime` in microseconds since 2000-01-01 (null for a non-transactional message). */
  change(commitTime: bigint | null): void {
    if (commitTime !== null) this.#current = commitTime
  }

  /** The transaction being read ends at `endLsn`. */
  commit(endLsn: Lsn): void {
    if (this.#current === null) return
    this.#waiting.push({ endLsn, commitMs: POSTGRES_EPOCH_MS + Number(this.#current / 1000n) })
    this.#current = null
  }

  /** Everything up to `lsn` was delivered. */
  flushed(lsn: Lsn): void {
    const waiting = this.#waiting
    while (this.#head < waiting.length && waiting[this.#head]!.endLsn <= lsn) this.#head++
    // Drop what was delivered once it is most of the array, so a queue that never empties stays small.
    if (this.#head > 64 && this.#head * 2 >= waiting.length) (this.#waiting = waiting.slice(this.#head)), (this.#head = 0)
  }

  /** Seconds behind at `now` (ms): 0 when nothing read waits for delivery. */
  lagSeconds(now: number): number {
    const oldest = this.#waiting[this.#head]
    return oldest === undefined ? 0 : Math.max(0, (now - oldest.commitMs) / 1000)
  }
}
