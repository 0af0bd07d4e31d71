/**
 * Resharding while the aggregating writer runs: its shard map is stale, so an aggregated record
 * lands in a child shard whose hash range does not cover all its user records — records the KCL
 * de-aggregator drops. The writer sees the answer's ShardId differ from the shard it planned for,
 * reads the shards again, and re-sends those user records to their own shard; read back the way
 * the KCL reads, nothing is missing and each key stays in order.
 */
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import type { Change } from '../../src/change/change.ts'
import { KinesisWriter } from '../../src/writers/kinesis/writer.ts'
import { createStream, deleteStream, readAll, REGION, TEST_CREDENTIALS, testClient } from './kinesis-support.ts'
import { kinesisEndpoint } from './kinesis-server.ts'
import { uniqueName, waitFor } from './support.ts'

const KEYS = 200

test('kinesis reshard: after a SplitShard, aggregated records in the wrong child shard are re-sent; nothing is lost', async () => {
  const client = await testClient()
  const stream = uniqueName('reshard')
  await createStream(client, stream, 2)
  const warnings: string[] = []
  const logger = { error() {}, info() {}, debug() {}, warn: (message: string) => void warnings.push(message) }
  try {
    const writer = new KinesisWriter({
      region: REGION,
      streamName: stream,
      endpoint: await kinesisEndpoint(),
      credentials: TEST_CREDENTIALS,
      aggregation: true,
      logger,
    })
    await writer.init()
    await publishRound(writer, 0)
    const middle = ((1n << 128n) / 4n).toString() // shard 0 covers [0, 2^127): split it in half
    await client.call('SplitShard', { StreamName: stream, ShardToSplit: 'shardId-000000000000', NewStartingHashKey: middle })
    await waitFor(async () => (await client.describeStreamSummary({ StreamName: stream })).StreamStatus === 'ACTIVE', 10_000, 'the split to finish')
    await publishRound(writer, 1)
    await publishRound(writer, 2)
    const records = await readAll(client, stream)
    const byKey = new Map<string, number[]>()
    for (const record of records) {
      const { key, round } = JSON.parse(record.data) as { key: string; round: number }
      const rounds = byKey.get(key) ?? []
      if (!rounds.includes(round)) rounds.push(round)
      byKey.set(key, rounds)
    }
    assertEquals(byKey.size, KEYS, 'every key')
    for (const [key, rounds] of byKey) assertEquals(rounds, [0, 1, 2], `key ${key}: every round, in order`)
    assert(
      warnings.some((w) => w.includes('resharded')),
      `the writer noticed the reshard: ${warnings.join('; ')}`,
    )
  } finally {
    await deleteStream(client, stream)
  }
})

async function publishRound(writer: KinesisWriter, round: number): Promise<void> {
  const records = Array.from({ length: KEYS }, (_, i) => {
    const change = { id: `0/${round}:${i}`, relation: undefined, message: { prefix: 'm' } } as unknown as Change
    return { change, data: new TextEncoder().encode(JSON.stringify({ key: `k${i}`, round })), partitionKey: `k${i}` }
  })
  await writer.publish(records)
}
