/** @module Waiting until the batcher has confirmed a position durable. */
import type { Lsn } from '../pg/lsn.ts'

interface Waiter {
  readonly after: Lsn
  readonly resolve: () => void
  readonly reject: (error: Error) => void
}

/**
 * The highest position the batcher reported durable, and promises for later ones. A position is
 * waited for strictly: a commit LSN is passed only when something at or after it was durable.
 */
export class DurablePosition {
  #flushed: Lsn = -1n
  #waiters: Waiter[] = []
  #failure: Error | undefined

  /** Called with each position the batcher reports durable (in increasing order). */
  markFlushed(lsn: Lsn): void {
    if (lsn > this.#flushed) this.#flushed = lsn
    if (this.#waiters.length === 0) return
    const waiting: Waiter[] = []
    for (const waiter of this.#waiters) {
      if (this.#flushed > waiter.after) waiter.resolve()
      else waiting.push(waiter)
    }
    this.#waiters = waiting
  }

  /** Resolves once a position after `lsn` is durable; rejects when delivery failed or stopped first. */
  after(lsn: Lsn): Promise<void> {
    if (this.#flushed > lsn) return Promise.resolve()
    if (this.#failure) return Promise.reject(this.#failure)
    return new Promise((resolve, reject) => this.#waiters.push({ after: lsn, resolve, reject }))
  }

  /** Nothing more will become durable (a publish failed, or the stream stopped): every wait ends. */
  fail(error: Error): void {
    this.#failure ??= error
    for (const waiter of this.#waiters) waiter.reject(this.#failure)
    this.#waiters = []
  }
}
