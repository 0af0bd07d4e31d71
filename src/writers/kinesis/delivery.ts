/**
 * @module Delivers one batch: keeps up to N PutRecords requests in flight, retries only what failed
 * (with exponential backoff and jitter), and resolves once every record is stored.
 *
 * Ordering: requests are planned by plan.ts, which never puts a key in two places at once; a key
 * stays "in flight" from the moment its record is planned until its request has settled, so the
 * key's next record is planned only after the previous one was stored (or failed and will be sent
 * again first). No record of a key is stored for the first time after a later one. A request
 * whose outcome is unknown (timeout, dropped connection) is retried: the record may then be stored
 * twice, and a late copy of it may land after later records — a duplicate with the same `id`;
 * its first occurrence is still in order.
 */
import type { Logger } from '../../logger.ts'
import { backoff } from '../../backoff.ts'
import { PgToBrokersError } from '../../errors.ts'
import { describeRecord, isRetryableCode } from './errors.ts'
import { buildQueues, type Entry, type KeyQueue, type Unit } from './plan.ts'

/** A record's answer inside a PutRecords response. */
export type UnitOutcome = { readonly ok: true; readonly shardId: string } | { readonly ok: false; readonly code: string; readonly message: string }

/** What the delivery needs from the writer. */
export interface DeliveryTransport {
  /** The next request's units (see plan.ts). */
  plan(queues: ReadonlyMap<string, KeyQueue>, inFlight: ReadonlySet<string>, now: number): Unit[]
  /** Sends one PutRecords request; one outcome per unit, in order. Throws when the whole request failed. */
  send(units: readonly Unit[]): Promise<UnitOutcome[]>
  /** A whole-request failure: a reason to retry with, or the error to stop with. */
  classify(error: unknown): { readonly retry: string } | { readonly fatal: Error }
  /** An aggregated record landed in another shard than planned: which of its entries to send again. */
  misrouted?(unit: Unit, shardId: string): Promise<ReadonlySet<Entry>>
}

export interface DeliveryOptions {
  readonly maxConcurrentRequests: number
  /** Attempts per record before giving up (the first send counts). */
  readonly maxAttempts: number
  /** Give up on a record not stored this long after its first attempt. */
  readonly maxRetryTimeMs: number
  readonly retryBaseDelayMs: number
  readonly retryMaxDelayMs: number
  readonly logger: Logger
  readonly now?: () => number
  readonly random?: () => number
}

/**
 * Stores every entry, in order per PartitionKey. Resolves when all are stored.
 * @throws PgToBrokersError when a record is rejected for good or retries run out; it rejects only
 * after every request in flight has settled, so no late write races a later run's re-send.
 */
export async function deliver(entries: readonly Entry[], transport: DeliveryTransport, options: DeliveryOptions): Promise<void> {
  if (entries.length > 0) await new Delivery(entries, transport, options).run()
}

class Delivery {
  readonly #queues: Map<string, KeyQueue>
  readonly #inFlight = new Set<string>()
  readonly #transport: DeliveryTransport
  readonly #options: DeliveryOptions
  readonly #now: () => number
  readonly #random: () => number
  #active = 0
  #fatal: Error | undefined
  #wake: (() => void) | undefined

  constructor(entries: readonly Entry[], transport: DeliveryTransport, options: DeliveryOptions) {
    this.#queues = buildQueues(entries)
    this.#transport = transport
    this.#options = options
    this.#now = options.now ?? Date.now
    this.#random = options.random ?? Math.random
  }

  async run(): Promise<void> {
    for (;;) {
      if (!this.#fatal) this.#startRequests()
      if (this.#active === 0) {
        if (this.#fatal) throw this.#fatal
        if (this.#queues.size === 0) return
      }
      await this.#nextEvent()
    }
  }

  #startRequests(): void {
    while (this.#active < this.#options.maxConcurrentRequests) {
      const now = this.#now()
      const units = this.#transport.plan(this.#queues, this.#inFlight, now)
      if (units.length === 0) return
      for (const unit of units) {
        for (const entry of unit.entries) {
          this.#inFlight.add(entry.partitionKey)
          entry.firstAttemptAt ??= now
        }
      }
      this.#active++
      void this.#request(units)
    }
  }

  async #request(units: readonly Unit[]): Promise<void> {
    try {
      const outcomes = await this.#transport.send(units)
      for (let i = 0; i < units.length; i++) await this.#settle(units[i]!, outcomes[i]!)
    } catch (error) {
      const verdict = this.#transport.classify(error)
      if ('fatal' in verdict) this.#fatal ??= verdict.fatal
      else for (const unit of units) this.#retry(unit.entries, verdict.retry)
    } finally {
      // Released only now: until the request settled, a key's next record must not be planned.
      for (const unit of units) for (const entry of unit.entries) this.#inFlight.delete(entry.partitionKey)
      this.#active--
      this.#wake?.()
    }
  }

  async #settle(unit: Unit, outcome: UnitOutcome): Promise<void> {
    if (!outcome.ok) {
      if (isRetryableCode(outcome.code)) return this.#retry(unit.entries, `${outcome.code}: ${outcome.message}`)
      const entry = unit.entries[0]!
      this.#fatal ??= new PgToBrokersError(
        'kinesis_record_rejected',
        `Kinesis rejected record ${entry.record.change.id} (${describeRecord(entry.record.change)}) with ${outcome.code}: ${outcome.message}; ` +
          `nothing of this batch was acknowledged`,
      )
      return
    }
    let again: ReadonlySet<Entry> = new Set()
    if (unit.predictedShardId !== undefined && outcome.shardId !== unit.predictedShardId && this.#transport.misrouted) {
      again = await this.#transport.misrouted(unit, outcome.shardId)
    }
    for (const entry of unit.entries) {
      if (again.has(entry)) continue
      const queue = this.#queues.get(entry.partitionKey)!
      if (queue.entries[queue.head] !== entry) throw new Error(`delivery invariant broken: record ${entry.record.change.id} stored out of its key's order`)
      queue.head++
      if (queue.head === queue.entries.length) this.#queues.delete(entry.partitionKey)
    }
  }

  #retry(entries: readonly Entry[], reason: string): void {
    const now = this.#now()
    for (const entry of entries) {
      entry.attempts++
      const elapsed = now - (entry.firstAttemptAt ?? now)
      if (entry.attempts >= this.#options.maxAttempts || elapsed >= this.#options.maxRetryTimeMs) {
        this.#fatal ??= new PgToBrokersError(
          'kinesis_gave_up',
          `gave up on Kinesis record ${entry.record.change.id} (${describeRecord(entry.record.change)}) after ${entry.attempts} attempts over ` +
            `${Math.round(elapsed / 100) / 10} s; ` +
            `last error: ${reason}. Nothing of this batch was acknowledged: a restart sends it again (raise maxAttempts or the stream's capacity ` +
            `if this repeats)`,
        )
        return
      }
      entry.notBefore = now + this.#backoff(entry.attempts)
    }
    this.#options.logger.debug('kinesis: retrying records', { records: entries.length, reason, attempt: entries[0]?.attempts })
  }

  #backoff(attempts: number): number {
    return backoff(attempts, this.#options.retryBaseDelayMs, this.#options.retryMaxDelayMs, this.#random)
  }

  /** Waits until a request settles or the earliest backoff ends. */
  #nextEvent(): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      this.#wake = () => {
        clearTimeout(timer)
        this.#wake = undefined
        resolve()
      }
      const due = this.#fatal ? undefined : this.#earliestRetry()
      if (due !== undefined) timer = setTimeout(() => this.#wake?.(), Math.max(0, due - this.#now()))
    })
  }

  /** When the first waiting key (not in flight, backing off) becomes ready. */
  #earliestRetry(): number | undefined {
    let due: number | undefined
    for (const queue of this.#queues.values()) {
      if (this.#inFlight.has(queue.key)) continue
      const at = queue.entries[queue.head]!.notBefore
      if (due === undefined || at < due) due = at
    }
    return due
  }
}
