/**
 * The Kafka writer's own record batch encoding, read back with the client library's decoder, and
 * its key hash against the Java client's published test vectors.
 */
import { compatibilityPartitioner, compressionsAlgorithms, jsCRC32C, readRecordsBatch, Reader } from '@platformatic/kafka'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { kafkaFailure } from '../../src/writers/kafka/errors.ts'
import { messageBytes, recordBytesAtMost, toMessage, tombstoneFor, type KafkaMessage } from '../../src/writers/kafka/messages.ts'
import { murmur2, partitionForKey } from '../../src/writers/kafka/murmur2.ts'
import { encodeRecordBatch, nextSequence } from '../../src/writers/kafka/record-batch.ts'
import { utf8Length } from '../../src/writers/utf8.ts'

const utf8 = new TextEncoder()
const text = (bytes: Uint8Array | null | undefined) => (bytes === null || bytes === undefined ? null : new TextDecoder().decode(bytes))

const MESSAGES: KafkaMessage[] = [
  {
    topic: 't',
    key: 'public.t:1',
    value: utf8.encode('{"a":1}'),
    headers: new Map([
      ['id', '0/16B3748:0'],
      ['operation', 'INSERT'],
    ]),
  },
  { topic: 't', key: 'public.Bücher:"ü😀"', value: utf8.encode('{"title":"Grüße 😀"}'), headers: new Map([['table_name', 'public.Bücher']]) },
  { topic: 't', key: 'public.t:1', value: null, headers: new Map([['lsn', '0/16B3748']]) },
  { topic: 't', key: '', value: new Uint8Array(0), headers: new Map() },
  { topic: 't', key: 'k'.repeat(300), value: new Uint8Array(70_000).fill(0x61), headers: new Map([['id', 'x'.repeat(200)]]) },
]

for (const compression of ['none', 'gzip', 'lz4'] as const) {
  test(`kafka record batch (${compression}): the client's decoder reads back every key, value, header, offset and the producer's sequence`, () => {
    const producer = { producerId: 4242n, producerEpoch: 3, baseSequence: 17 }
    const bytes = encodeRecordBatch(MESSAGES, producer, 1_700_000_000_123, compression)
    const batch = readRecordsBatch(Reader.from(Buffer.from(bytes)))
    assertEquals(batch.magic, 2)
    assertEquals(batch.length, bytes.length - 12, 'batch length counts the bytes after it')
    assertEquals(batch.crc, jsCRC32C(Buffer.from(bytes.subarray(21))), 'CRC-32C over attributes … records')
    assertEquals([batch.producerId, batch.producerEpoch, batch.firstSequence], [4242n, 3, 17])
    assertEquals([batch.lastOffsetDelta, batch.records.length], [MESSAGES.length - 1, MESSAGES.length])
    assertEquals([batch.firstTimestamp, batch.maxTimestamp], [1_700_000_000_123n, 1_700_000_000_123n])
    assertEquals(batch.attributes & 0b111, { none: 0, gzip: 1, lz4: 3 }[compression], 'compression bits')
    batch.records.forEach((record, i) => {
      const message = MESSAGES[i]!
      assertEquals(record.offsetDelta, i)
      assertEquals(text(record.key), message.key)
      assertEquals(text(record.value), text(message.value), `value ${i}`)
      assertEquals(
        record.headers.map(([k, v]) => [text(k), text(v)]),
        [...message.headers],
      )
    })
  })
}

test('kafka record batch: zstd where the runtime has it; where it does not, a configuration error that names the fix', () => {
  const producer = { producerId: 1n, producerEpoch: 0, baseSequence: 0 }
  let thrown: unknown
  try {
    const batch = readRecordsBatch(Reader.from(Buffer.from(encodeRecordBatch(MESSAGES, producer, 0, 'zstd'))))
    assertEquals(
      batch.records.map((r) => text(r.key)),
      MESSAGES.map((m) => m.key),
    )
  } catch (error) {
    thrown = error
  }
  assertEquals(thrown === undefined, compressionsAlgorithms.zstd.available, `zstd available: ${compressionsAlgorithms.zstd.available}, thrown: ${thrown}`)
  if (thrown !== undefined) {
    const failure = kafkaFailure(thrown, { action: 'sending 5 records', brokers: ['b:9092'] })
    assertEquals(failure.code, 'kafka_config')
    assert(failure.message.includes('choose another compression'), failure.message)
  }
})

test('kafka record batch: written into reused, dirty memory it is byte for byte the batch written into fresh memory', () => {
  const producer = { producerId: 7n, producerEpoch: 0, baseSequence: 0x7ffffff0 }
  const clean = encodeRecordBatch(MESSAGES, producer, 1_700_000_000_000, 'none')
  const arena = new Uint8Array(clean.length + 64).fill(0xaa)
  const dirty = encodeRecordBatch(MESSAGES, producer, 1_700_000_000_000, 'none', (bytes) => arena.subarray(32, 32 + bytes))
  assertEquals(dirty.byteOffset, 32)
  assertEquals(Buffer.from(dirty).equals(Buffer.from(clean)), true, 'same bytes')
  assertEquals([arena[31], arena[32 + clean.length]], [0xaa, 0xaa], 'nothing written outside the slice')
})

test('kafka messages: the bound taken without scanning text is never below the measured size of a message and its tombstone', () => {
  const relation = { qualifiedName: 'public.Bücher 😀' }
  for (const [key, operation, data] of [
    ['public.t:1', 'INSERT', 'x'],
    ['public.Bücher 😀:"ü😀€"', 'DELETE', '{"ü":"😀"}'],
    ['', 'UPDATE', ''],
  ] as const) {
    const change = { id: '1A/2B3C4D5E:4294967295', operation, relation, transactionId: 4294967295 }
    const record = { change, data: utf8.encode(data), partitionKey: key } as never
    const message = toMessage(record, 't')
    const measured = messageBytes(message) + messageBytes(tombstoneFor(message))
    assert(recordBytesAtMost(record) >= measured, `${key}: bound ${recordBytesAtMost(record)} < ${measured}`)
  }
})

test('kafka record batch: UTF-8 lengths without encoding, sequence numbers wrap after 2^31-1', () => {
  for (const s of ['', 'abc', 'Grüße', '😀', 'a\ud800b', '\udc00', 'ü😀€']) assertEquals(utf8Length(s), utf8.encode(s).length, JSON.stringify(s))
  assertEquals(nextSequence(5, 10), 15)
  assertEquals(nextSequence(0x7fffffff - 2, 2), 0x7fffffff)
  assertEquals(nextSequence(0x7fffffff - 2, 3), 0)
  assertEquals(nextSequence(0x7fffffff, 5), 4)
})

test("kafka key hash: the Java client's murmur2 test vectors, and the same partition as the client's compatibility partitioner", () => {
  // org.apache.kafka.common.utils.UtilsTest#testMurmur2
  const vectors: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ]
  for (const [key, hash] of vectors) assertEquals(murmur2(utf8.encode(key)), hash, key)
  for (let n = 0; n < 500; n++) {
    const key = Buffer.from(Array.from({ length: n % 41 }, (_, i) => (n * 31 + i * 7) & 0xff))
    const expected = compatibilityPartitioner(undefined as never, key) % 12
    assert(partitionForKey(key, 12) === expected, `key ${key.toString('hex')}: ${partitionForKey(key, 12)} vs ${expected}`)
  }
})
