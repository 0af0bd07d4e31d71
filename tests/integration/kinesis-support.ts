/** @module Shared setup for the Kinesis tests: a client for the local server, streams, and reading every record back. */
import { KinesisClient } from '../../src/writers/kinesis/client.ts'
import { CredentialProvider, type AwsCredentials } from '../../src/writers/kinesis/credentials.ts'
import { decodeBase64 } from '../../src/writers/kinesis/base64.ts'
import { deaggregate } from '../../src/writers/kinesis/aggregation.ts'
import { hashKeyOf } from '../../src/writers/kinesis/keys.ts'
import { kinesisEndpoint } from './kinesis-server.ts'
import { waitFor } from './support.ts'

export const REGION = 'us-east-1'
/** kinesis-local accepts any well-formed signature; these are stand-ins, not real keys. */
export const TEST_CREDENTIALS: AwsCredentials = { accessKeyId: 'AKIDTESTLOCAL', secretAccessKey: 'local-secret-not-real' }

export async function testClient(endpoint?: string): Promise<KinesisClient> {
  return new KinesisClient({
    region: REGION,
    endpoint: endpoint ?? (await kinesisEndpoint()),
    credentials: CredentialProvider.fromStatic(TEST_CREDENTIALS),
    requestTimeoutMs: 10_000,
  })
}

/** Creates a stream with `shards` shards and waits until it is ACTIVE. */
export async function createStream(client: KinesisClient, name: string, shards = 4): Promise<void> {
  await client.call('CreateStream', { StreamName: name, ShardCount: shards })
  await waitFor(async () => (await client.describeStreamSummary({ StreamName: name })).StreamStatus === 'ACTIVE', 15_000, `stream ${name} ACTIVE`)
}

export async function deleteStream(client: KinesisClient, name: string): Promise<void> {
  await client.call('DeleteStream', { StreamName: name, EnforceConsumerDeletion: true }).catch(() => {})
}

/** One user record as a consumer sees it, with where it was stored. */
export interface ReadRecord {
  readonly shardId: string
  readonly sequenceNumber: string
  readonly partitionKey: string
  readonly data: string
  /** True when it came out of a KPL aggregated record. */
  readonly aggregated: boolean
}

/**
 * Every record of every shard (open and closed), oldest first per shard (TRIM_HORIZON, GetRecords
 * until caught up), de-aggregated like the KCL: a user record whose hash key lies outside its
 * shard's range is dropped (the KCL does so after a reshard).
 */
export async function readAll(client: KinesisClient, stream: string): Promise<ReadRecord[]> {
  const listed = await client.call<{ Shards: { ShardId: string; HashKeyRange: { StartingHashKey: string; EndingHashKey: string } }[] }>('ListShards', {
    StreamName: stream,
  })
  const out: ReadRecord[] = []
  for (const shard of listed.Shards) {
    const range = { low: BigInt(shard.HashKeyRange.StartingHashKey), high: BigInt(shard.HashKeyRange.EndingHashKey) }
    const { ShardIterator } = await client.call<{ ShardIterator: string }>('GetShardIterator', {
      StreamName: stream,
      ShardId: shard.ShardId,
      ShardIteratorType: 'TRIM_HORIZON',
    })
    let iterator: string | undefined = ShardIterator
    while (iterator) {
      const page: GetRecordsOutput = await client.call<GetRecordsOutput>('GetRecords', { ShardIterator: iterator, Limit: 10_000 })
      for (const record of page.Records) out.push(...userRecords(shard.ShardId, record, range))
      if (page.Records.length === 0 && (page.MillisBehindLatest ?? 0) === 0) break
      iterator = page.NextShardIterator
    }
  }
  return out
}

interface GetRecordsOutput {
  Records: { SequenceNumber: string; PartitionKey: string; Data: string }[]
  NextShardIterator?: string
  MillisBehindLatest?: number
}

const decoder = new TextDecoder()

function userRecords(shardId: string, record: GetRecordsOutput['Records'][number], range: { low: bigint; high: bigint }): ReadRecord[] {
  const bytes = decodeBase64(record.Data)
  const users = deaggregate({ partitionKey: record.PartitionKey, data: bytes })
  const aggregated = users.length !== 1 || users[0]!.data !== bytes
  return users
    .filter((user) => {
      if (!aggregated) return true
      const hash = user.explicitHashKey !== undefined ? BigInt(user.explicitHashKey) : hashKeyOf(user.partitionKey)
      return hash >= range.low && hash <= range.high
    })
    .map((user) => ({ shardId, sequenceNumber: record.SequenceNumber, partitionKey: user.partitionKey, data: decoder.decode(user.data), aggregated }))
}
