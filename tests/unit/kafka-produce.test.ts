/**
 * ProduceSession against a stand-in for the client (its metadata, retry loop and connection), so
 * that what real brokers rarely do on demand can be checked: a request that fails is sent again
 * with the same sequence numbers, sequences advance only on acknowledgement, and a partition
 * without a leader makes the session look the metadata up again.
 */
import { kGetApi, kGetConnection, kMetadata, kOptions, kPerformWithRetry, readRecordsBatch, Reader, Writer } from '@platformatic/kafka'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import type { KafkaProducer } from '../../src/writers/kafka/client.ts'
import type { KafkaMessage } from '../../src/writers/kafka/messages.ts'
import { partitionForKey } from '../../src/writers/kafka/murmur2.ts'
import { ProduceSession } from '../../src/writers/kafka/produce.ts'

type Callback = (error: Error | null, result?: unknown) => void

/** One partition's batch as a request carried it. */
interface Sent {
  readonly request: number
  readonly partition: number
  readonly baseSequence: number
  readonly keys: string[]
}

/** The parts of the client ProduceSession uses: two partitions on broker 1, whose leader is unknown until the metadata is looked up again. */
function standIn(options: { failRequests: number }) {
  const sent: Sent[] = []
  let requests = 0
  let cleared = 0
  const metadata = () => ({
    topics: new Map([['t', { partitionsCount: 2, partitions: [{ leader: cleared > 0 ? 1 : -1 }, { leader: 1 }] }]]),
    brokers: new Map([[1, { host: '127.0.0.1', port: 1 }]]),
  })
  const connection = {
    send(_key: number, version: number, payload: () => Writer, _parse: unknown, _a: boolean, _b: boolean, done: Callback) {
      const request = ++requests
      const reader = Reader.from(payload())
      assertEquals([reader.readNullableString(), reader.readInt16(), version], [null, -1, 11], 'no transactional id, acks=all')
      reader.readInt32()
      const topics = reader.readUnsignedVarInt() - 1
      for (let t = 0; t < topics; t++) {
        assertEquals(reader.readString(), 't')
        const partitions = reader.readUnsignedVarInt() - 1
        for (let p = 0; p < partitions; p++) {
          const partition = reader.readInt32()
          reader.readUnsignedVarInt()
          const batch = readRecordsBatch(reader)
          reader.readTaggedFields()
          sent.push({ request, partition, baseSequence: batch.firstSequence, keys: batch.records.map((r) => r.key?.toString() ?? '') })
        }
        reader.readTaggedFields()
      }
      if (request <= options.failRequests) done(new Error('connection reset (a retriable failure)'))
      else done(null, { responses: [] })
    },
  }
  const producer = {
    producerId: 9n,
    producerEpoch: 0,
    [kOptions]: { timeout: 1000 },
    initIdempotentProducer: async () => {},
    metadata: async () => metadata(),
    clearMetadata: () => void cleared++,
    [kMetadata]: (_options: unknown, done: Callback) => done(null, metadata()),
    [kGetApi]: (_name: string, done: Callback) => done(null, { version: 11 }),
    [kGetConnection]: (_broker: unknown, done: Callback) => done(null, connection),
    [kPerformWithRetry](_id: string, operation: (done: Callback) => void, done: Callback, attempt = 0) {
      operation((error, result) => {
        if (error && attempt < 5) this[kPerformWithRetry](_id, operation, done, attempt + 1)
        else done(error, result)
      })
    },
  }
  return { producer: producer as unknown as KafkaProducer, sent, cleared: () => cleared }
}

const message = (key: string): KafkaMessage => ({ topic: 't', key, value: new TextEncoder().encode(`{"k":"${key}"}`), headers: new Map([['id', key]]) })
const keysOn = (partition: number) => ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].filter((k) => partitionForKey(new TextEncoder().encode(k), 2) === partition)

test(
  'kafka produce: a failed request goes again with the same sequences; sequences advance only once acknowledged; ' + 'no leader means fresh metadata',
  async () => {
    const { producer, sent, cleared } = standIn({ failRequests: 1 })
    const [zero, one] = [keysOn(0), keysOn(1)]
    assert(zero.length > 0 && one.length > 0, 'keys on both partitions')
    const session = new ProduceSession(producer, 'none')
    await session.send([...zero, ...one].map(message))
    // Attempt 1: partition 0 has no leader (its metadata is looked up again), partition 1 goes and fails.
    // Attempt 2: both go, partition 1 with the same base sequence as before.
    assertEquals(cleared(), 1, 'metadata cleared once for the partition without a leader')
    assertEquals(
      sent.map((s) => [s.request, s.partition, s.baseSequence]),
      [
        [1, 1, 0],
        [2, 0, 0],
        [2, 1, 0],
      ],
    )
    assertEquals(sent.find((s) => s.partition === 0)!.keys, zero, 'order kept within the partition')
    await session.send([message(zero[0]!), message(one[0]!), message(one[0]!)])
    assertEquals(
      sent.slice(3).map((s) => [s.partition, s.baseSequence, s.keys.length]),
      [
        [0, zero.length, 1],
        [1, one.length, 2],
      ],
      'sequences continue after the acknowledged records',
    )
  },
)
