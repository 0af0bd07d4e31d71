import { test } from '../harness.ts'
import { assert, assertEquals, assertRejects } from '../assert.ts'
import { mulberry32, testSeed } from '../seed.ts'
import type { Change } from '../../src/change/change.ts'
import { silentLogger } from '../../src/logger.ts'
import { deaggregate } from '../../src/writers/kinesis/aggregation.ts'
import { deliver, type DeliveryTransport, type UnitOutcome } from '../../src/writers/kinesis/delivery.ts'
import { hashKeyOf, ShardMap } from '../../src/writers/kinesis/keys.ts'
import { KINESIS_MAX_HASH_KEY, KINESIS_MAX_RECORD_BYTES, KINESIS_MAX_RECORDS, KINESIS_MAX_REQUEST_BYTES } from '../../src/writers/kinesis/limits.ts'
import { buildQueues, planAggregated, planPlain, type Entry, type Unit } from '../../src/writers/kinesis/plan.ts'

const encoder = new TextEncoder()

function entry(id: number, key: string, bytes = 20, hashed = false): Entry {
  const change = { id: `0/1:${id}`, relation: undefined, message: { prefix: 'm', content: new Uint8Array(0), transactional: true } } as unknown as Change
  const data = encoder.encode(`${id}:`.padEnd(bytes, '.'))
  return {
    record: { change, data, partitionKey: key },
    partitionKey: key,
    explicitHashKey: undefined,
    hashKey: hashed ? hashKeyOf(key) : undefined,
    data,
    size: data.length + key.length,
    attempts: 0,
    notBefore: 0,
    firstAttemptAt: undefined,
  }
}

function shardMap(count: number): ShardMap {
  const width = (KINESIS_MAX_HASH_KEY + 1n) / BigInt(count)
  return new ShardMap(
    Array.from({ length: count }, (_, i) => ({
      shardId: `shard-${i}`,
      startingHashKey: width * BigInt(i),
      endingHashKey: i === count - 1 ? KINESIS_MAX_HASH_KEY : width * BigInt(i + 1) - 1n,
    })),
  )
}

function keysOf(unit: Unit): Set<string> {
  return new Set(unit.entries.map((e) => e.partitionKey))
}

/** Keys that appear in more than one unit of one request. */
function repeatedKeys(units: readonly Unit[]): string[] {
  const seen = new Set<string>()
  const repeated: string[] = []
  for (const unit of units) {
    for (const key of keysOf(unit)) {
      if (seen.has(key)) repeated.push(key)
      seen.add(key)
    }
  }
  return repeated
}

function assertDistinctKeys(units: readonly Unit[]): void {
  const repeated = repeatedKeys(units)
  assert(repeated.length === 0, `keys ${repeated.join(', ')} appear in two units of one request`)
}

test('kinesis plan: a plain request takes each ready key once, skips keys in flight or backing off, and stays within 500 records and 5 MiB', () => {
  const entries = [entry(0, 'a'), entry(1, 'a'), entry(2, 'b'), entry(3, 'c'), entry(4, 'b'), entry(5, 'd')]
  entries[5]!.notBefore = 1000
  const units = planPlain(buildQueues(entries), new Set(['c']), 500)
  assertEquals(
    units.map((u) => u.entries[0]!.record.change.id),
    ['0/1:0', '0/1:2'],
    'heads of a and b; c in flight; d backing off',
  )
  const many = Array.from({ length: 1200 }, (_, i) => entry(i, `k${i}`))
  const first = planPlain(buildQueues(many), new Set(), 0)
  assertEquals(first.length, KINESIS_MAX_RECORDS)
  const big = Array.from({ length: 12 }, (_, i) => entry(i, `k${i}`, 1_000_000))
  const sized = planPlain(buildQueues(big), new Set(), 0)
  assertEquals(sized.length, 5, 'five 1 MB records fit in 5 MiB, not six')
  assert(sized.reduce((n, u) => n + u.size, 0) <= KINESIS_MAX_REQUEST_BYTES, 'within 5 MiB')
})

test('kinesis plan: aggregated requests group by shard, take one run per key, and respect 1 MiB per record and 5 MiB per request', () => {
  const shards = shardMap(4)
  const entries: Entry[] = []
  for (let i = 0; i < 6000; i++) entries.push(entry(i, `key-${i % 700}`, 200 + (i % 7) * 300, true))
  const queues = buildQueues(entries)
  const units = planAggregated(queues, new Set(), 0, shards)
  assertDistinctKeys(units)
  assert(units.length <= KINESIS_MAX_RECORDS, 'at most 500 units')
  assert(units.reduce((n, u) => n + u.size, 0) <= KINESIS_MAX_REQUEST_BYTES, 'within 5 MiB')
  for (const unit of units) {
    assert(unit.size <= KINESIS_MAX_RECORD_BYTES, `aggregate of ${unit.size} bytes`)
    assertEquals(unit.size, unit.data.length + encoder.encode(unit.partitionKey).length, 'size is data plus partition key')
    if (unit.predictedShardId === undefined) continue
    const shard = shards.get(unit.predictedShardId)!
    assertEquals(unit.explicitHashKey, shard.startingHashKey.toString(), 'the aggregate is routed to its shard')
    for (const e of unit.entries) assert(e.hashKey! >= shard.startingHashKey && e.hashKey! <= shard.endingHashKey, 'every user record belongs to the shard')
    const inside = deaggregate({ partitionKey: unit.partitionKey, data: unit.data })
    assertEquals(
      inside.map((r) => r.data),
      unit.entries.map((e) => e.data),
      'de-aggregates to its entries in order',
    )
  }
  for (const queue of queues.values()) {
    const taken = units.flatMap((u) => u.entries.filter((e) => e.partitionKey === queue.key))
    assertEquals(taken, queue.entries.slice(0, taken.length), `key ${queue.key}: a run from its head, in order`)
  }
})

test('kinesis plan: a lone record, or one too big to aggregate, travels as a plain record', () => {
  const shards = shardMap(2)
  const lone = planAggregated(buildQueues([entry(0, 'only', 50, true)]), new Set(), 0, shards)
  assertEquals(lone.length, 1)
  assertEquals(lone[0]!.predictedShardId, undefined)
  assertEquals(lone[0]!.data, lone[0]!.entries[0]!.data)
  const key = 'big'
  const huge = entry(1, key, KINESIS_MAX_RECORD_BYTES - key.length, true)
  const units = planAggregated(buildQueues([entry(0, 'small', 50, true), huge]), new Set(), 0, shards)
  const plainHuge = units.find((u) => u.entries.includes(huge))!
  assertEquals(plainHuge.data, huge.data, 'sent as it is: the aggregate framing would push it over 1 MiB')
})

/**
 * A fake Kinesis: answers after a random delay; fails whole requests, fails single records, or
 * stores a request and then "loses" the answer. It checks the planner's promise on every request
 * (no key twice in a request, no key in two requests at once) and records what it stored.
 * Broken promises go to `violations`, not into a throw: the writer would take a throw from `send`
 * for a failed request and retry it, and the test would pass.
 */
function fakeKinesis(
  seed: number,
  aggregated: boolean,
): { transport: DeliveryTransport; stored: Map<string, number[]>; violations: string[]; requests: () => number } {
  const random = mulberry32(seed)
  const stored = new Map<string, number[]>()
  const violations: string[] = []
  const inFlight = new Set<string>()
  const shards = shardMap(4)
  let requests = 0
  const store = (unit: Unit) => {
    for (const e of unit.entries) stored.set(e.partitionKey, [...(stored.get(e.partitionKey) ?? []), Number(e.record.change.id.split(':')[1])])
  }
  const transport: DeliveryTransport = {
    plan: (queues, busy, now) => (aggregated ? planAggregated(queues, busy, now, shards) : planPlain(queues, busy, now)),
    classify: (error) => ((error as Error).message === 'fatal' ? { fatal: error as Error } : { retry: (error as Error).message }),
    send: async (units) => {
      requests++
      for (const key of repeatedKeys(units)) violations.push(`request ${requests}: key ${key} appears in two units`)
      const keys = units.flatMap((u) => [...keysOf(u)])
      for (const key of keys) if (inFlight.has(key)) violations.push(`request ${requests}: key ${key} is in two requests at once`)
      for (const key of keys) inFlight.add(key)
      try {
        await new Promise((resolve) => setTimeout(resolve, random() * 3))
        const roll = random()
        if (roll < 0.1) throw new Error('ProvisionedThroughputExceededException: whole request')
        if (roll < 0.15) {
          units.forEach(store)
          throw new Error('ECONNRESET: answer lost after storing')
        }
        return units.map((unit): UnitOutcome => {
          if (random() < 0.2) return { ok: false, code: 'ProvisionedThroughputExceededException', message: 'Rate exceeded for shard' }
          store(unit)
          return { ok: true, shardId: unit.predictedShardId ?? 'shard-0' }
        })
      } finally {
        for (const key of keys) inFlight.delete(key)
      }
    },
  }
  return { transport, stored, violations, requests: () => requests }
}

/**
 * Per-key order with at-least-once delivery. When an answer is lost, the writer sends the same
 * records again: with aggregation that is a whole run of a key, so the stream then holds
 * 0 100 … 1400 0 100 … 1400. A record may therefore follow a later one of its key only as the start
 * of such a replay (a record stored before), and the replay must get back at least as far as the
 * stream had already been (else a consumer would end on an older value). Returns what is wrong.
 */
function orderProblem(ids: readonly number[]): string | undefined {
  const seen = new Set<number>()
  let high = Number.NEGATIVE_INFINITY // the highest record stored before the current increasing run
  for (const [i, id] of ids.entries()) {
    const previous = ids[i - 1]
    if (previous !== undefined && id < previous) {
      if (previous < high) return `a replay stopped at record ${previous}, short of record ${high} stored before it`
      if (!seen.has(id)) return `record ${id} stored for the first time after the later record ${previous}`
      high = Math.max(high, previous)
    }
    seen.add(id)
  }
  const last = ids[ids.length - 1]
  return last !== undefined && last < high ? `a replay stopped at record ${last}, short of record ${high} stored before it` : undefined
}

test('kinesis delivery order check: replays of stored records pass; a first send out of order or a replay that stops short fails', () => {
  assertEquals(orderProblem([0, 100, 200, 0, 100, 200, 300]), undefined)
  assertEquals(orderProblem([0, 0, 100, 100, 200]), undefined)
  assertEquals(orderProblem([0, 100, 200, 100, 200, 0, 100, 200, 300]), undefined)
  assertEquals(orderProblem([0, 200, 100]), 'record 100 stored for the first time after the later record 200')
  assertEquals(orderProblem([0, 100, 200, 100]), 'a replay stopped at record 100, short of record 200 stored before it')
  assertEquals(orderProblem([0, 100, 200, 0, 100, 300, 0, 200]), 'a replay stopped at record 200, short of record 300 stored before it')
})

const OPTIONS = { maxConcurrentRequests: 4, maxAttempts: 100, maxRetryTimeMs: 60_000, retryBaseDelayMs: 0, retryMaxDelayMs: 2, logger: silentLogger }

for (const aggregated of [false, true]) {
  test(
    `kinesis delivery${aggregated ? ' (aggregated)' : ''}: with random failures every record is stored, ` +
      `in order per key (re-sends only replay what was stored)`,
    async () => {
      const base = testSeed()
      for (let run = 1; run <= 5; run++) {
        const seed = (base + run) >>> 0
        const entries = Array.from({ length: 1500 }, (_, i) => entry(i, `k${(i * 7919) % (40 + run * 30)}`, 30, aggregated))
        const fake = fakeKinesis(seed, aggregated)
        await deliver(entries, fake.transport, OPTIONS)
        assertEquals(fake.violations.slice(0, 5), [], `the planner's promises (run ${run}, ${fake.violations.length} violations)`)
        for (const [key, ids] of fake.stored) {
          const expected = entries.filter((e) => e.partitionKey === key).map((e) => Number(e.record.change.id.split(':')[1]))
          assertEquals(orderProblem(ids), undefined, `key ${key}: order (run ${run}; stored ${ids.join(' ')})`)
          assertEquals([...new Set(ids)], expected, `key ${key}: every record, first occurrences in order (run ${run})`)
        }
        assertEquals(fake.stored.size, new Set(entries.map((e) => e.partitionKey)).size, 'every key stored')
      }
    },
  )
}

test('kinesis delivery: gives up after maxAttempts, naming the record, only once no request is in flight', async () => {
  let active = 0
  let maxActive = 0
  const transport: DeliveryTransport = {
    plan: planPlain,
    classify: (error) => ({ retry: (error as Error).message }),
    send: async (units) => {
      active++
      maxActive = Math.max(maxActive, active)
      await new Promise((resolve) => setTimeout(resolve, 2))
      active--
      return units.map(() => ({ ok: false, code: 'ProvisionedThroughputExceededException', message: 'Rate exceeded' }))
    },
  }
  const entries = Array.from({ length: 2000 }, (_, i) => entry(i, `k${i}`))
  await assertRejects(
    () => deliver(entries, transport, { ...OPTIONS, maxAttempts: 3 }),
    /^gave up on Kinesis record 0\/1:\d+ \(logical message "m"\) after 3 attempts/,
  )
  assertEquals(active, 0, 'no request in flight when publish rejects')
  assert(maxActive <= OPTIONS.maxConcurrentRequests, `at most ${OPTIONS.maxConcurrentRequests} requests at once, saw ${maxActive}`)
})

test('kinesis delivery: a record rejected for good (not retryable) stops delivery with a clear error', async () => {
  const transport: DeliveryTransport = {
    plan: planPlain,
    classify: (error) => ({ fatal: error as Error }),
    send: async (units) => units.map(() => ({ ok: false, code: 'KMSAccessDeniedException', message: 'no access to the key' })),
  }
  await assertRejects(
    () => deliver([entry(0, 'a')], transport, OPTIONS),
    'Kinesis rejected record 0/1:0 (logical message "m") with KMSAccessDeniedException: no access to the key',
  )
})
