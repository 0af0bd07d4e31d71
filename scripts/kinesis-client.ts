/**
 * @module The local Kinesis server's streams for scripts/kinesis.sh, over the project's own signed
 * client: create one and wait until it is ACTIVE (`stream`), print one's records (`read`).
 *
 *   tsx scripts/kinesis-client.ts stream <endpoint> <name> [shards]
 *   tsx scripts/kinesis-client.ts read <endpoint> <stream> [count]
 */
import process from 'node:process'
import { KinesisApiError, KinesisClient } from '../src/writers/kinesis/client.ts'
import { CredentialProvider } from '../src/writers/kinesis/credentials.ts'
import { decodeBase64 } from '../src/writers/kinesis/base64.ts'
import { deaggregate } from '../src/writers/kinesis/aggregation.ts'
import { positive, requireArrived, runScript } from './script-support.ts'
import { sleep } from '../src/backoff.ts'

/** kinesis-local checks that requests are signed, not by whom: stand-ins, not real keys. */
const LOCAL_CREDENTIALS = { accessKeyId: 'AKIDLOCALSCRIPTS', secretAccessKey: 'local-secret-not-real' }
/** Streams belong to a region: the one the CLI is given (AWS_REGION), us-east-1 by default. */
const REGION = process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1'
const ACTIVE_TIMEOUT_MS = 30_000
/** How long `read` waits for the records asked for. */
const READ_TIMEOUT_MS = Number(process.env.PG_TO_BROKERS_CONSUME_TIMEOUT_S ?? 30) * 1000
const POLL_MS = 250

interface GetRecordsOutput {
  Records: { Data: string; PartitionKey: string }[]
  NextShardIterator?: string
}

/** Creates `stream` unless it exists, then waits until it is ACTIVE (also one being created or deleted). */
async function createStream(client: KinesisClient, stream: string, shards: number): Promise<'created' | 'exists'> {
  let outcome: 'created' | 'exists' = 'exists'
  const deadline = Date.now() + ACTIVE_TIMEOUT_MS
  for (;;) {
    const status = await streamStatus(client, stream)
    if (status === 'ACTIVE') return outcome
    if (status === undefined) {
      await client.call('CreateStream', { StreamName: stream, ShardCount: shards }).catch((error: unknown) => {
        // Created by someone else meanwhile: wait for it like for our own.
        if (!(error instanceof KinesisApiError && error.type === 'ResourceInUseException')) throw error
      })
      outcome = 'created'
    }
    if (Date.now() > deadline) throw new Error(`stream "${stream}" is ${status ?? 'being created'}, not ACTIVE, after ${ACTIVE_TIMEOUT_MS / 1000} s`)
    await sleep(POLL_MS)
  }
}

/**
 * Prints the data of `stream`'s records from the start of every shard, one per line (aggregated
 * records unpacked), until `count` were printed. Resolves with how many (fewer after the timeout).
 */
async function readRecords(client: KinesisClient, stream: string, count: number, timeoutMs = READ_TIMEOUT_MS): Promise<number> {
  if ((await streamStatus(client, stream)) === undefined)
    throw new Error(`stream "${stream}" does not exist in ${REGION}: create it with bash scripts/kinesis.sh stream ${stream}`)
  const listed = await client.call<{ Shards: { ShardId: string }[] }>('ListShards', { StreamName: stream })
  const iterators = new Map<string, string | undefined>()
  for (const { ShardId } of listed.Shards) {
    const answer = await client.call<{ ShardIterator: string }>('GetShardIterator', { StreamName: stream, ShardId, ShardIteratorType: 'TRIM_HORIZON' })
    iterators.set(ShardId, answer.ShardIterator)
  }
  const decoder = new TextDecoder()
  const deadline = Date.now() + timeoutMs
  let seen = 0
  while (seen < count && Date.now() < deadline) {
    for (const [shard, iterator] of iterators) {
      if (iterator === undefined || seen === count) continue
      const page = await client.call<GetRecordsOutput>('GetRecords', { ShardIterator: iterator, Limit: 1000 })
      iterators.set(shard, page.NextShardIterator)
      for (const record of page.Records) {
        for (const user of deaggregate({ partitionKey: record.PartitionKey, data: decodeBase64(record.Data) })) {
          if (seen === count) break
          process.stdout.write(`${decoder.decode(user.data)}\n`)
          seen++
        }
      }
    }
    if (seen < count) await sleep(POLL_MS)
  }
  return seen
}

/** The stream's status, or undefined when there is no such stream. */
async function streamStatus(client: KinesisClient, stream: string): Promise<string | undefined> {
  try {
    return (await client.describeStreamSummary({ StreamName: stream })).StreamStatus
  } catch (error) {
    if (error instanceof KinesisApiError && error.type === 'ResourceNotFoundException') return undefined
    throw error
  }
}

async function main(args: string[]): Promise<void> {
  const [command, endpoint, name, number] = args
  if (!endpoint || !name || (command !== 'stream' && command !== 'read')) throw new Error('usage: kinesis-client.ts stream|read <endpoint> <name> [number]')
  const client = new KinesisClient({ region: REGION, endpoint, credentials: CredentialProvider.fromStatic(LOCAL_CREDENTIALS), requestTimeoutMs: 10_000 })
  if (command === 'stream') {
    const outcome = await createStream(client, name, positive(number, 'shards', 1))
    process.stderr.write(`kinesis.sh: stream ${name} ${outcome === 'created' ? 'created' : 'already exists'} and ACTIVE (${REGION}, ${endpoint})\n`)
    return
  }
  const count = positive(number, 'count', 1)
  const seen = await readRecords(client, name, count)
  requireArrived(seen, count, 'records', name, READ_TIMEOUT_MS)
}

runScript('kinesis.sh', main)
