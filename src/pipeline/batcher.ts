/** @module Groups records into batches by count, size and age; publishes them one at a time, in order. */
import type { Lsn } from '../pg/lsn.ts'
import type { StreamWriter, WriterRecord } from '../writers/writer.ts'

export interface BatchOptions {
  /** Seal a batch at this many records. */
  readonly maxRecords: number
  /** Seal a batch once its records' data reaches this many bytes. */
  readonly maxBytes: number
  /** Seal a batch this long after its first record arrived, full or not. */
  readonly maxLatencyMs: number
  /** Sealed batches waiting or being published before `add` makes the reader wait (backpressure). */
  readonly maxInFlightBatches: number
}

/** Told of each published batch (metrics). */
export interface BatchObserver {
  batchPublished(records: number, seconds: number): void
}

export const DEFAULT_BATCH_OPTIONS: BatchOptions = { maxRecords: 1000, maxBytes: 4 * 1024 * 1024, maxLatencyMs: 50, maxInFlightBatches: 8 }

interface Batch {
  readonly records: WriterRecord[]
  bytes: number
  /** The LSN that may be confirmed once this batch and every earlier one are durable. */
  ackLsn: Lsn | undefined
}

/**
 * Invariant: `onDurable(lsn)` is called only after every record handed to `add` before the
 * `commit(lsn)` call was published successfully. After a publish fails, nothing more is published
 * or confirmed, and `add`/`commit`/`drain` reject with that failure.
 */
export class Batcher {
  readonly #writer: StreamWriter
  readonly #options: BatchOptions
  readonly #onDurable: (lsn: Lsn) => void
  readonly #onFailure: ((error: Error) => void) | undefined
  readonly #observer: BatchObserver | undefined
  #open: Batch = emptyBatch()
  readonly #sealed: Batch[] = []
  #publishing = false
  #timer: ReturnType<typeof setTimeout> | undefined
  #failure: Error | undefined
  #waiters: (() => void)[] = []
  #loop: Promise<void> = Promise.resolve()
  #abandoned = false

  /** `onFailure` is called once, when a publish fails (so the reader can stop at once, not at its next message). */
  constructor(writer: StreamWriter, options: BatchOptions, onDurable: (lsn: Lsn) => void, onFailure?: (error: Error) => void, observer?: BatchObserver) {
    this.#writer = writer
    this.#options = options
    this.#onDurable = onDurable
    this.#onFailure = onFailure
    this.#observer = observer
  }

  /** True when nothing is buffered, queued or being published. */
  get idle(): boolean {
    return this.#open.records.length === 0 && this.#sealed.length === 0 && !this.#publishing
  }

  get failure(): Error | undefined {
    return this.#failure
  }

  /** Adds a record; returns a promise only when the caller must wait for the writer to catch up. */
  add(record: WriterRecord): void | Promise<void> {
    if (this.#failure) throw this.#failure
    const open = this.#open
    open.records.push(record)
    open.bytes += record.data.length
    if (open.records.length === 1 && this.#options.maxLatencyMs >= 0) {
      this.#timer = setTimeout(() => this.#seal(), this.#options.maxLatencyMs)
    }
    if (open.records.length >= this.#options.maxRecords || open.bytes >= this.#options.maxBytes) {
      this.#seal()
      if (this.#sealed.length >= this.#options.maxInFlightBatches) return this.#capacity()
    }
  }

  /** Everything added so far belongs to transactions that end at or before `endLsn`. */
  commit(endLsn: Lsn): void {
    if (this.#failure) throw this.#failure
    if (this.#open.records.length > 0) {
      this.#open.ackLsn = endLsn
      // An idle writer gets the transaction at once instead of after maxLatencyMs; a busy one keeps
      // the batch filling, so batches grow exactly when the writer is the bottleneck.
      if (!this.#publishing && this.#sealed.length === 0) this.#seal()
    } else if (this.#sealed.length > 0) this.#sealed[this.#sealed.length - 1]!.ackLsn = endLsn
    else this.#onDurable(endLsn)
  }

  /** Seals what is buffered and resolves when every batch is published. @throws the publish failure. */
  async drain(): Promise<void> {
    this.#seal()
    while (!this.idle && !this.#failure) await new Promise<void>((resolve) => this.#waiters.push(resolve))
    if (this.#failure) throw this.#failure
  }

  /** Stops the latency timer (after a failure or when shutting down without draining). */
  stop(): void {
    clearTimeout(this.#timer)
  }

  /**
   * Gives up on what is not yet published and waits for a publish in progress to settle, so that
   * a later run re-sending the same records never races an earlier, late delivery.
   */
  async abandon(): Promise<void> {
    this.stop()
    this.#open = emptyBatch()
    this.#sealed.splice(1)
    this.#abandoned = true
    await this.#loop
  }

  #seal(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#open.records.length === 0) return
    this.#sealed.push(this.#open)
    this.#open = emptyBatch()
    if (!this.#publishing && !this.#abandoned) this.#loop = this.#publishLoop()
  }

  /** When a publish ends, a buffered batch that already ends a transaction goes next, not after the timer. */
  #sealCompleteTransactions(): boolean {
    if (this.#abandoned || this.#open.records.length === 0 || this.#open.ackLsn === undefined) return false
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#sealed.push(this.#open)
    this.#open = emptyBatch()
    return true
  }

  #capacity(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.#failure) reject(this.#failure)
        else if (this.#sealed.length < this.#options.maxInFlightBatches) resolve()
        else this.#waiters.push(check)
      }
      check()
    })
  }

  async #publishLoop(): Promise<void> {
    this.#publishing = true
    try {
      while (this.#sealed.length > 0 || this.#sealCompleteTransactions()) {
        const batch = this.#sealed[0]!
        const started = this.#observer && performance.now()
        await this.#writer.publish(batch.records)
        if (started !== undefined) this.#observer!.batchPublished(batch.records.length, (performance.now() - started) / 1000)
        this.#sealed.shift()
        if (this.#abandoned) break
        if (batch.ackLsn !== undefined) this.#onDurable(batch.ackLsn)
        this.#wakeWaiters()
      }
    } catch (error) {
      this.#failure = error instanceof Error ? error : new Error(String(error))
      this.stop()
      this.#onFailure?.(this.#failure)
    } finally {
      this.#publishing = false
      this.#wakeWaiters()
    }
  }

  #wakeWaiters(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const wake of waiters) wake()
  }
}

function emptyBatch(): Batch {
  return { records: [], bytes: 0, ackLsn: undefined }
}
