/**
 * @module A stand-in Kinesis endpoint for the benchmark, on 127.0.0.1: it accepts every record
 * (answers DescribeStreamSummary, ListShards and PutRecords as Kinesis does) and stores nothing,
 * so the writer's own cost — planning, aggregation, MD5, base64, JSON, SigV4 signing, HTTP — is
 * measured without a server's. Not used by the tests.
 */
import { createServer, type Server } from 'node:http'

const SHARDS = 4
const WIDTH = (1n << 128n) / BigInt(SHARDS)

export interface NullKinesis {
  readonly endpoint: string
  readonly close: () => Promise<void>
}

export async function startNullKinesis(): Promise<NullKinesis> {
  let sequence = 0n
  const server: Server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
    req.on('end', () => {
      const operation = String(req.headers['x-amz-target'] ?? '').split('.').pop()
      const answer = (value: unknown) => res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.1' }).end(JSON.stringify(value))
      if (operation === 'DescribeStreamSummary') return answer({ StreamDescriptionSummary: { StreamName: 'null', StreamARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/null', StreamStatus: 'ACTIVE', OpenShardCount: SHARDS } })
      if (operation === 'ListShards') return answer({ Shards: shards() })
      if (operation !== 'PutRecords') return res.writeHead(400).end(JSON.stringify({ __type: 'InvalidArgumentException', message: `unsupported ${operation}` }))
      const records = (JSON.parse(body) as { Records: { PartitionKey: string; ExplicitHashKey?: string }[] }).Records
      answer({ FailedRecordCount: 0, Records: records.map((r) => ({ SequenceNumber: String(sequence++), ShardId: shardIdFor(r.ExplicitHashKey) })) })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return { endpoint: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))) }
}

function shards(): unknown[] {
  return Array.from({ length: SHARDS }, (_, i) => ({
    ShardId: `shardId-${String(i).padStart(12, '0')}`,
    HashKeyRange: { StartingHashKey: (WIDTH * BigInt(i)).toString(), EndingHashKey: (i === SHARDS - 1 ? (1n << 128n) - 1n : WIDTH * BigInt(i + 1) - 1n).toString() },
  }))
}

/** The shard an ExplicitHashKey falls in (aggregated records carry one); plain records are not checked. */
function shardIdFor(explicitHashKey: string | undefined): string {
  const index = explicitHashKey === undefined ? 0 : Number(BigInt(explicitHashKey) / WIDTH)
  return `shardId-${String(Math.min(index, SHARDS - 1)).padStart(12, '0')}`
}
