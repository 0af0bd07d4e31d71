/**
 * @module Request planning: which records go into the next PutRecords request.
 *
 * The ordering rule lives here. Records wait in one FIFO queue per PartitionKey; a request takes
 * records only from queues whose key has nothing in flight, and takes a key at most once (one
 * record, or one aggregated record holding a run of that key's records). So a key's next record
 * is sent only after its previous one was stored, and a partial failure cannot let a later record
 * of a key overtake an earlier one.
 */
import type { WriterRecord } from '../writer.ts'
import { AggregateBuilder, type UserRecord } from './aggregation.ts'
import type { ShardMap } from './keys.ts'
import { KINESIS_MAX_RECORD_BYTES, KINESIS_MAX_RECORDS, KINESIS_MAX_REQUEST_BYTES } from './limits.ts'
import { utf8Length } from '../utf8.ts'

/** One record on its way: what is sent, and its retry state. */
export interface Entry {
  readonly record: WriterRecord
  readonly partitionKey: string
  readonly explicitHashKey: string | undefined
  /** The hash key that picks the shard (ExplicitHashKey, else MD5 of the PartitionKey); set when aggregating. */
  readonly hashKey: bigint | undefined
  readonly data: Uint8Array
  /** Data plus PartitionKey bytes: what Kinesis counts against its limits. */
  readonly size: number
  attempts: number
  /** Not sent again before this time (ms since the epoch): the retry backoff. */
  notBefore: number
  firstAttemptAt: number | undefined
}

/** A key's records still to store, oldest first; `head` is the next one. */
export interface KeyQueue {
  readonly key: string
  readonly entries: Entry[]
  head: number
}

/** One record of a PutRecords request: a single entry, or an aggregated record of several. */
export interface Unit {
  readonly entries: readonly Entry[]
  readonly partitionKey: string
  readonly explicitHashKey: string | undefined
  readonly data: Uint8Array
  readonly size: number
  /** The shard an aggregated record was built for; its answer's ShardId should match. */
  readonly predictedShardId: string | undefined
}

/** Queues by PartitionKey, in order of each key's first record. */
export function buildQueues(entries: readonly Entry[]): Map<string, KeyQueue> {
  const queues = new Map<string, KeyQueue>()
  for (const entry of entries) {
    const queue = queues.get(entry.partitionKey)
    if (queue) queue.entries.push(entry)
    else queues.set(entry.partitionKey, { key: entry.partitionKey, entries: [entry], head: 0 })
  }
  return queues
}

/** True when the queue's next record may be sent now. */
export function isReady(queue: KeyQueue, inFlight: ReadonlySet<string>, now: number): boolean {
  return !inFlight.has(queue.key) && queue.entries[queue.head]!.notBefore <= now
}

/** The next request without aggregation: up to 500 records of distinct ready keys, within 5 MiB. */
export function planPlain(queues: ReadonlyMap<string, KeyQueue>, inFlight: ReadonlySet<string>, now: number): Unit[] {
  const units: Unit[] = []
  let bytes = 0
  for (const queue of queues.values()) {
    if (!isReady(queue, inFlight, now)) continue
    const entry = queue.entries[queue.head]!
    if (bytes + entry.size > KINESIS_MAX_REQUEST_BYTES) continue
    units.push(plainUnit(entry))
    bytes += entry.size
    if (units.length === KINESIS_MAX_RECORDS) break
  }
  return units
}

/**
 * The next request with aggregation: each ready key's run of records goes into an aggregated record
 * for the shard its hash key maps to (so the KCL finds every user record in its own shard's range).
 * A key appears in one unit only; an aggregate stays within 1 MiB and the request within 500
 * records and 5 MiB. A lone record becomes a plain record.
 */
export function planAggregated(queues: ReadonlyMap<string, KeyQueue>, inFlight: ReadonlySet<string>, now: number, shards: ShardMap): Unit[] {
  const plan = new AggregatePlan(shards)
  for (const queue of queues.values()) {
    if (!isReady(queue, inFlight, now)) continue
    if (!plan.takeFrom(queue)) break
  }
  return plan.finish()
}

export function plainUnit(entry: Entry): Unit {
  return {
    entries: [entry],
    partitionKey: entry.partitionKey,
    explicitHashKey: entry.explicitHashKey,
    data: entry.data,
    size: entry.size,
    predictedShardId: undefined,
  }
}

/** An aggregated record being filled for one shard. */
interface OpenAggregate {
  readonly shardId: string
  readonly explicitHashKey: string
  readonly builder: AggregateBuilder
  readonly entries: Entry[]
  /** Encoded size plus the outer PartitionKey (the first entry's). */
  size: number
}

class AggregatePlan {
  readonly #shards: ShardMap
  readonly #open = new Map<string, OpenAggregate>()
  readonly #units: Unit[] = []
  #bytes = 0

  constructor(shards: ShardMap) {
    this.#shards = shards
  }

  /** Takes what fits of the queue's records; false once the request cannot take another unit. */
  takeFrom(queue: KeyQueue): boolean {
    const shard = this.#shards.shardFor(queue.entries[queue.head]!.hashKey ?? 0n)
    let taken = 0
    for (let i = queue.head; i < queue.entries.length; i++) {
      const entry = queue.entries[i]!
      const open = this.#open.get(shard.shardId)
      if (!open && this.#count() >= KINESIS_MAX_RECORDS) return false
      const target = open ?? this.#start(shard.shardId, shard.startingHashKey.toString())
      if (this.#tryAdd(target, entry)) {
        taken++
        continue
      }
      if (taken > 0) break // the key goes on in a later request: never in two units of one request
      if (target.entries.length > 0) {
        this.#close(target)
        i-- // try this entry again in a fresh aggregate
        continue
      }
      this.#open.delete(shard.shardId)
      // Too big to aggregate (the framing pushed it over 1 MiB): send it as a plain record.
      if (this.#bytes + entry.size <= KINESIS_MAX_REQUEST_BYTES) {
        this.#units.push(plainUnit(entry))
        this.#bytes += entry.size
      }
      break
    }
    return this.#count() < KINESIS_MAX_RECORDS
  }

  finish(): Unit[] {
    for (const open of [...this.#open.values()]) this.#close(open)
    return this.#units
  }

  #count(): number {
    return this.#units.length + this.#open.size
  }

  #start(shardId: string, explicitHashKey: string): OpenAggregate {
    const open: OpenAggregate = { shardId, explicitHashKey, builder: new AggregateBuilder(), entries: [], size: 0 }
    this.#open.set(shardId, open)
    return open
  }

  #tryAdd(open: OpenAggregate, entry: Entry): boolean {
    const user: UserRecord = { partitionKey: entry.partitionKey, explicitHashKey: entry.explicitHashKey, data: entry.data }
    const outerKey = open.entries.length === 0 ? entry.partitionKey : open.entries[0]!.partitionKey
    const size = open.builder.sizeWith(user) + utf8Length(outerKey)
    if (size > KINESIS_MAX_RECORD_BYTES || this.#bytes + size - open.size > KINESIS_MAX_REQUEST_BYTES) return false
    open.builder.add(user)
    open.entries.push(entry)
    this.#bytes += size - open.size
    open.size = size
    return true
  }

  #close(open: OpenAggregate): void {
    this.#open.delete(open.shardId)
    if (open.entries.length === 1) {
      // A lone record travels plain: smaller, and every reader understands it.
      const entry = open.entries[0]!
      this.#bytes += entry.size - open.size
      this.#units.push(plainUnit(entry))
      return
    }
    const data = open.builder.encode()
    const partitionKey = open.entries[0]!.partitionKey
    this.#units.push({ entries: open.entries, partitionKey, explicitHashKey: open.explicitHashKey, data, size: open.size, predictedShardId: open.shardId })
  }
}
