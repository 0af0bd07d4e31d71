/**
 * The benchmark's Kinesis stub (bench/null-kinesis.ts) accepts what the writer sends, signed by
 * aws4fetch, and refuses — as Kinesis does, and counted — a wrong signature or a request outside
 * the PutRecords limits; the CLI row points the shipped CLI at it with the stub's keys.
 */
import { AwsClient } from 'aws4fetch'
import { test } from '../harness.ts'
import { assert, assertEquals, assertRejects } from '../assert.ts'
import type { Change } from '../../src/change/change.ts'
import type { RelationSchema } from '../../src/change/relations.ts'
import { KinesisClient, type KinesisApiError, type PutRecordsRequestEntry } from '../../src/writers/kinesis/client.ts'
import { CredentialProvider } from '../../src/writers/kinesis/credentials.ts'
import { KinesisWriter } from '../../src/writers/kinesis/writer.ts'
import { consumers, type Connection, type Paths } from '../../bench/consumers.ts'
import { startNullKinesis, STUB_CREDENTIALS, type NullKinesis } from '../../bench/null-kinesis.ts'
import type { Job } from '../../bench/runners/job.ts'

const KEYS = STUB_CREDENTIALS[0]!
const STREAM = 'orders'

function client(stub: NullKinesis, secretAccessKey = KEYS.secretAccessKey, accessKeyId = KEYS.accessKeyId): KinesisClient {
  return new KinesisClient({
    region: 'us-east-1',
    endpoint: stub.endpoint,
    credentials: CredentialProvider.fromStatic({ accessKeyId, secretAccessKey }),
    requestTimeoutMs: 30_000,
  })
}

async function withStub(fn: (stub: NullKinesis) => Promise<void>): Promise<void> {
  const stub = await startNullKinesis({ streamName: STREAM })
  try {
    await fn(stub)
  } finally {
    await stub.close()
  }
}

/** Calls PutRecords and returns the error type Kinesis would answer, or 'ok'. */
async function put(stub: NullKinesis, records: readonly PutRecordsRequestEntry[], target: object = { StreamName: STREAM }): Promise<string> {
  try {
    await client(stub).call('PutRecords', { ...target, Records: records })
    return 'ok'
  } catch (error) {
    const failure = error as KinesisApiError
    assertEquals(failure.status, 400, `${failure.type} is answered with HTTP 400`)
    return failure.type
  }
}

const data = (bytes: number) => Buffer.alloc(bytes, 7).toString('base64')

function rowChange(id: number): Change {
  const relation = { qualifiedName: 'public.orders', fields: ['id'], keyIndexes: [0] } as unknown as RelationSchema
  return {
    id: `0/1:${id}`,
    operation: 'INSERT',
    relation,
    fields: relation.fields,
    types: ['integer'],
    values: [id],
    unchangedToastFields: undefined,
    old: undefined,
    transactionId: 1,
    commitLsn: 1n,
    commitTime: null,
    ordinal: id,
    truncate: undefined,
    message: undefined,
  }
}

test('kinesis stub: the writer (plain, aggregated, explicit hash keys, long keys) is accepted with no refusal', async () => {
  await withStub(async (stub) => {
    const variants = [{}, { aggregation: true }, { explicitHashKey: true }, { aggregation: true, explicitHashKey: true }]
    for (const variant of variants) {
      const writer = new KinesisWriter({ region: 'us-east-1', endpoint: stub.endpoint, streamName: STREAM, credentials: KEYS, ...variant })
      await writer.init()
      const records = Array.from({ length: 1200 }, (_, i) => {
        const key = i % 7 === 0 ? `public.orders:${'k'.repeat(300)}${i}` : `public.orders:${i % 400}`
        return { change: rowChange(i), partitionKey: key, data: new TextEncoder().encode(`{"id":${i},"note":"é ${'x'.repeat(i % 50)}"}`) }
      })
      await writer.publish(records)
      await writer.close()
    }
    assertEquals(stub.stats.rejected, 0, `refused: ${stub.stats.reasons.join('; ')}`)
    assert(stub.stats.records >= 1200 + 3, `records arrived (${stub.stats.records})`)
  })
})

test('kinesis stub: a wrong secret, an unknown key id, a body changed after signing or an old date are refused and counted', async () => {
  await withStub(async (stub) => {
    const wrongSecret = await assertRejects(
      () => client(stub, 'not-the-secret').describeStreamSummary({ StreamName: STREAM }),
      'signature we calculated does not match',
    )
    assertEquals([(wrongSecret as KinesisApiError).type, (wrongSecret as KinesisApiError).status], ['InvalidSignatureException', 400])
    await assertRejects(
      () => client(stub, KEYS.secretAccessKey, 'AKIDUNKNOWN').describeStreamSummary({ StreamName: STREAM }),
      'security token included in the request is invalid',
    )
    const signer = new AwsClient({ ...KEYS, service: 'kinesis', region: 'us-east-1', retries: 0 })
    const headers = { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'Kinesis_20131202.PutRecords' }
    const body = JSON.stringify({ StreamName: STREAM, Records: [{ Data: data(10), PartitionKey: 'a' }] })
    const signed = await signer.sign(`${stub.endpoint}/`, { method: 'POST', headers, body })
    const tampered = await fetch(`${stub.endpoint}/`, { method: 'POST', headers: signed.headers, body: body.replace('"a"', '"b"') })
    assertEquals([tampered.status, ((await tampered.json()) as { __type: string }).__type], [400, 'InvalidSignatureException'])
    const honest = await fetch(signed)
    assertEquals(
      [honest.status, ((await honest.json()) as { FailedRecordCount: number }).FailedRecordCount],
      [200, 0],
      'the same request unchanged is accepted',
    )
    const old = await signer.sign(`${stub.endpoint}/`, { method: 'POST', headers, body, aws: { datetime: '20200101T000000Z' } })
    assertEquals((await fetch(old)).status, 400, 'a signature dated years ago is refused')
    assertEquals(stub.stats.rejected, 4)
    assertEquals(stub.stats.records, 1)
  })
})

test(
  'kinesis stub: PutRecords outside the limits or the shape is refused as Kinesis refuses it',
  async () => {
    await withStub(async (stub) => {
      const one = { Data: data(100), PartitionKey: 'k' }
      assertEquals(await put(stub, [one]), 'ok')
      assertEquals(await put(stub, [one], { StreamARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${STREAM}` }), 'ok', 'by ARN')
      assertEquals(await put(stub, Array(500).fill(one)), 'ok', '500 records')
      assertEquals(await put(stub, Array(501).fill(one)), 'ValidationException', '501 records')
      assertEquals(await put(stub, []), 'ValidationException', 'no record')
      assertEquals(await put(stub, [one], {}), 'ValidationException', 'no stream')
      assertEquals(await put(stub, [one], { StreamName: 'other' }), 'ResourceNotFoundException', 'another stream')
      assertEquals(await put(stub, [{ Data: data(1), PartitionKey: 'p'.repeat(256) }]), 'ok', 'a 256-character key')
      assertEquals(await put(stub, [{ Data: data(1), PartitionKey: 'p'.repeat(257) }]), 'ValidationException', 'a 257-character key')
      assertEquals(await put(stub, [{ Data: data(1), PartitionKey: '' }]), 'ValidationException', 'an empty key')
      assertEquals(await put(stub, [{ Data: 'not base64!', PartitionKey: 'k' }]), 'SerializationException', 'Data not base64')
      assertEquals(
        await put(stub, [{ Data: data(1), PartitionKey: 'k', ExplicitHashKey: (1n << 128n).toString() }]),
        'ValidationException',
        'hash key above 2^128 - 1',
      )
      assertEquals(await put(stub, [{ Data: data(1024 * 1024 - 1), PartitionKey: 'k' }]), 'ok', '1 MiB with the key')
      assertEquals(await put(stub, [{ Data: data(1024 * 1024), PartitionKey: 'k' }]), 'ValidationException', '1 MiB and a key')
      assertEquals(await put(stub, Array(11).fill({ Data: data(1_000_000), PartitionKey: 'k' })), 'InvalidArgumentException', '11 MB in one request')
      assertEquals(stub.stats.rejected, 10)
    })
  },
  { timeoutMs: 300_000 },
)

test("kinesis stub: the bench row runs the CLI bin with --writer kinesis at the stub, with the stub's keys, stopped by the harness", async () => {
  const consumer = consumers('/p').find((c) => c.id === 'cli_node_tcp_kinesis_stub')
  assert(consumer?.prepare !== undefined, 'the row exists and starts its stub')
  assertEquals(consumer.stopWhenConfirmed, true)
  const prepared = await consumer.prepare()
  const connection: Connection = {
    tcpUrl: 'postgres://u:p@127.0.0.1:5999/pgtb_bench',
    socketDir: '/tmp/sock',
    port: 5999,
    user: 'u',
    password: 'p',
    database: 'pgtb_bench',
  }
  const paths: Paths = { bundles: '/b', cli: '/pkg/bin/pg-to-brokers.mjs', deno: 'deno', bun: 'bun', pgBin: '/pg', nodeFlags: [], node: '/opt/node/bin/node' }
  const job = { ...prepared.extra, url: '', slot: 'pgtb_bench_x', publication: 'pgtb_bench', targetLsn: '0/10', expectedRows: 1, report: '/r.json' } as Job
  const { file, args, env } = consumer.command(job, paths, connection)
  const endpoint = String(prepared.extra['kinesisEndpoint'])
  assertEquals(file, paths.node)
  assertEquals(args.slice(0, 6), [paths.cli, 'run', '--slot', job.slot, '--publication', job.publication])
  assertEquals(args.slice(6), [
    '--writer',
    'kinesis',
    '--kinesis-stream',
    String(prepared.extra['kinesisStream']),
    '--kinesis-region',
    'us-east-1',
    '--kinesis-endpoint',
    endpoint,
  ])
  assertEquals([env['AWS_ACCESS_KEY_ID'], env['AWS_SECRET_ACCESS_KEY']], [KEYS.accessKeyId, KEYS.secretAccessKey])
  assertEquals(new URL(env['PG_TO_BROKERS_POSTGRES_URL']!).searchParams.get('sslmode'), 'disable')
  // With nothing received the row fails rather than report a rate.
  await assertRejects(() => prepared.cleanup(), 'no record arrived')
})
