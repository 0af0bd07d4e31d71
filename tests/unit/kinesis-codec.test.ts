import { test } from '../harness.ts'
import { assert, assertEquals, assertThrows } from '../assert.ts'
import { md5, md5Hex } from '../../src/runtime/digest.ts'
import { decodeBase64, encodeBase64 } from '../../src/writers/kinesis/base64.ts'
import { aggregate, AggregateBuilder, deaggregate, isAggregated, KPL_MAGIC, type UserRecord } from '../../src/writers/kinesis/aggregation.ts'
import { hashKeyOf, kinesisPartitionKey, ShardMap } from '../../src/writers/kinesis/keys.ts'
import { KINESIS_MAX_HASH_KEY } from '../../src/writers/kinesis/limits.ts'

const encoder = new TextEncoder()
const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')

test('kinesis md5: the RFC 1321 test suite (appendix A.5)', () => {
  const vectors: [string, string][] = [
    ['', 'd41d8cd98f00b204e9800998ecf8427e'],
    ['a', '0cc175b9c0f1b6a831c399e269772661'],
    ['abc', '900150983cd24fb0d6963f7d28e17f72'],
    ['message digest', 'f96b697d7cb7938d525a2f31aaf161d0'],
    ['abcdefghijklmnopqrstuvwxyz', 'c3fcd3d76192e4007dfb496cca67e13b'],
    ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 'd174ab98d277d9f5a5611c2c9f419d9f'],
    ['12345678901234567890123456789012345678901234567890123456789012345678901234567890', '57edf4a22be3c955ac49da2e2107b67a'],
  ]
  for (const [input, digest] of vectors) {
    assertEquals(md5Hex(input), digest, `MD5("${input}")`)
    assertEquals(hex(md5(encoder.encode(input))), digest, `MD5 of the bytes of "${input}"`)
  }
})

test('kinesis md5: padding edges (55, 56, 63, 64 bytes), UTF-8 input and 1 MiB', () => {
  // Digests from an independent implementation (coreutils md5sum).
  assertEquals(md5Hex('a'.repeat(55)), 'ef1772b6dff9a122358552954ad0df65')
  assertEquals(md5Hex('a'.repeat(56)), '3b0c8ac703f828b04c6c197006d17218')
  assertEquals(md5Hex('a'.repeat(63)), 'b06521f39153d618550606be297466d5')
  assertEquals(md5Hex('a'.repeat(64)), '014842d480b571495a4a0363793f7367')
  assertEquals(md5Hex('é'), hex(md5(new Uint8Array([0xc3, 0xa9]))), 'strings hash as UTF-8')
  assertEquals(md5(new Uint8Array(1024 * 1024)).length, 16)
  assertEquals(hex(md5(new Uint8Array(1024 * 1024))), 'b6d81b360a5672d80c27430f39153e2c')
  // A view into a larger buffer hashes only its own bytes.
  const inner = encoder.encode('xxabcxx').subarray(2, 5)
  assertEquals(hex(md5(inner)), '900150983cd24fb0d6963f7d28e17f72')
})

test('kinesis base64: round trip at every length remainder, matching btoa', () => {
  for (let length = 0; length < 70; length++) {
    const bytes = Uint8Array.from({ length }, (_, i) => (i * 37 + length) & 255)
    const text = encodeBase64(bytes)
    assertEquals(text, btoa(String.fromCharCode(...bytes)), `length ${length}`)
    assertEquals(decodeBase64(text), bytes)
  }
})

test('kinesis aggregation: records round-trip through the KPL format with magic, protobuf and MD5', () => {
  const records: UserRecord[] = [
    { partitionKey: 'public.orders:1', data: encoder.encode('{"a":1}') },
    { partitionKey: 'public.orders:2', explicitHashKey: '12345', data: encoder.encode('{"b":"é€😀"}') },
    { partitionKey: 'public.orders:1', data: new Uint8Array(0) },
    { partitionKey: 'ключ', data: new Uint8Array(300).fill(7) },
  ]
  const bytes = aggregate(records)
  assertEquals(bytes.subarray(0, 4), KPL_MAGIC)
  assertEquals(bytes.subarray(bytes.length - 16), md5(bytes.subarray(4, bytes.length - 16)), 'trailing MD5 of the protobuf')
  assert(isAggregated(bytes), 'recognised as aggregated')
  const back = deaggregate({ partitionKey: 'outer', data: bytes })
  assertEquals(
    back.map((r) => r.partitionKey),
    records.map((r) => r.partitionKey),
  )
  assertEquals(
    back.map((r) => r.explicitHashKey),
    [undefined, '12345', undefined, undefined],
  )
  assertEquals(
    back.map((r) => r.data),
    records.map((r) => r.data),
  )
})

test('kinesis aggregation: the builder knows the exact encoded size before each add', () => {
  const builder = new AggregateBuilder()
  for (let i = 0; i < 300; i++) {
    const record = { partitionKey: `k${i % 150}`, ...(i % 3 === 0 ? { explicitHashKey: String(i * 1000) } : {}), data: new Uint8Array(i * 3) }
    const predicted = builder.sizeWith(record)
    builder.add(record)
    assertEquals(builder.size, predicted, `size after record ${i}`)
    if (i % 50 === 0) assertEquals(builder.encode().length, builder.size, `encoded length after record ${i}`)
  }
  assertEquals(builder.encode().length, builder.size)
})

test('kinesis aggregation: a plain record, or one whose checksum does not match, de-aggregates to itself', () => {
  const plain = { partitionKey: 'k', data: encoder.encode('{"x":1}') }
  assertEquals(deaggregate(plain), [plain])
  const corrupt = aggregate([
    { partitionKey: 'k', data: encoder.encode('x') },
    { partitionKey: 'j', data: encoder.encode('y') },
  ])
  corrupt[corrupt.length - 1]! ^= 1
  assertEquals(deaggregate({ partitionKey: 'k', data: corrupt }).length, 1, 'bad checksum: a plain record, as the KCL treats it')
})

test('kinesis keys: partition keys over 256 characters become a deterministic prefix#md5', () => {
  assertEquals(kinesisPartitionKey('public.t:1'), 'public.t:1')
  const exact = 'x'.repeat(256)
  assertEquals(kinesisPartitionKey(exact), exact)
  const long = 'public.t:' + 'y'.repeat(400)
  const key = kinesisPartitionKey(long)
  assertEquals(key, `${long.slice(0, 200)}#${md5Hex(long)}`)
  assert(key.length <= 256, 'within the limit')
  assertEquals(kinesisPartitionKey(long), key, 'deterministic')
  const emoji = 'a'.repeat(199) + '😀'.repeat(100)
  assert(!/[\uD800-\uDBFF]#/.test(kinesisPartitionKey(emoji)), 'no lone surrogate before the hash')
})

test('kinesis keys: hash keys are the big-endian MD5, shards are found by range, the even mapping is stable', () => {
  assertEquals(hashKeyOf('a'), 0x0cc175b9c0f1b6a831c399e269772661n)
  const quarter = (KINESIS_MAX_HASH_KEY + 1n) / 4n
  const map = new ShardMap(
    [3, 1, 0, 2].map((i) => ({ shardId: `shard-${i}`, startingHashKey: quarter * BigInt(i), endingHashKey: quarter * BigInt(i + 1) - 1n })),
  )
  assertEquals(map.shardFor(0n).shardId, 'shard-0')
  assertEquals(map.shardFor(quarter - 1n).shardId, 'shard-0')
  assertEquals(map.shardFor(quarter).shardId, 'shard-1')
  assertEquals(map.shardFor(KINESIS_MAX_HASH_KEY).shardId, 'shard-3')
  const counts = new Map<bigint, number>()
  for (let i = 0; i < 4000; i++) counts.set(map.evenHashKey(`key-${i}`), (counts.get(map.evenHashKey(`key-${i}`)) ?? 0) + 1)
  assertEquals(counts.size, 4, 'every shard gets keys')
  for (const count of counts.values()) assert(count > 800 && count < 1200, `even spread, got ${[...counts.values()]}`)
  assertEquals(map.evenHashKey('key-1'), map.evenHashKey('key-1'))
  assertThrows(() => new ShardMap([]), 'no open shard')
})
