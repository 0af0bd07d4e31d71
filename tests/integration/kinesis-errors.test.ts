/**
 * Bad input to the Kinesis writer, each a clear error with nothing acknowledged: unknown stream,
 * stream being deleted, unreachable endpoint, rejected or expired credentials (through the fault
 * proxy standing in for AWS: kinesis-local does not check signatures), records over 1 MiB (policy
 * 'fail' and 'dead-letter'), and retries running out. Secrets never appear in the messages.
 */
import { readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:http'
import type postgres from 'postgres'
import { test } from '../harness.ts'

const utf8 = (text: string) => new TextEncoder().encode(text)
import { assert, assertEquals, assertRejects } from '../assert.ts'
import { runPipeline } from '../../src/pipeline/pipeline.ts'
import { KinesisWriter, type KinesisWriterOptions } from '../../src/writers/kinesis/writer.ts'
import { CredentialProvider } from '../../src/writers/kinesis/credentials.ts'
import { FaultProxy } from './fault-proxy.ts'
import { createStream, deleteStream, readAll, REGION, TEST_CREDENTIALS, testClient } from './kinesis-support.ts'
import { freePort, kinesisEndpoint } from './kinesis-server.ts'
import { dropSlot, sqlClient, TEST_URL, uniqueName } from './support.ts'

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY'
const TOKEN = 'FwoGZXIvYXdzSESSIONTOKENsecretpart'

function writer(options: Partial<KinesisWriterOptions> & { endpoint: string }): KinesisWriter {
  return new KinesisWriter({
    region: REGION,
    streamName: 'missing',
    credentials: TEST_CREDENTIALS,
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 50,
    requestTimeoutMs: 2000,
    ...options,
  })
}

function assertNoSecrets(error: Error): void {
  const text = `${error.message} ${String(error.stack)}`
  assert(!text.includes(SECRET) && !text.includes(TOKEN), `a secret leaked into the error: ${error.message}`)
}

test('kinesis errors: an unknown stream names the stream, region and endpoint', async () => {
  const endpoint = await kinesisEndpoint()
  const error = await assertRejects(
    () => writer({ endpoint, streamName: 'no_such_stream' }).init(),
    `Kinesis stream "no_such_stream" does not exist in us-east-1 at ${endpoint}`,
  )
  assertEquals((error as Error & { code?: string }).code, 'kinesis_stream_not_found')
})

test('kinesis errors: a stream being deleted is not writable', async () => {
  const client = await testClient()
  const stream = uniqueName('deleting')
  await createStream(client, stream, 1)
  const endpoint = await kinesisEndpoint()
  await client.call('DeleteStream', { StreamName: stream })
  await assertRejects(
    () => writer({ endpoint, streamName: stream }).init(),
    `Kinesis stream "${stream}" in us-east-1 at ${endpoint} is DELETING, not ACTIVE or UPDATING`,
  )
})

test('kinesis errors: an endpoint where nothing listens is unreachable', async () => {
  const endpoint = `http://127.0.0.1:${await freePort()}`
  await assertRejects(
    () => writer({ endpoint }).init(),
    new RegExp(`^cannot reach the Kinesis endpoint ${endpoint} \\(region us-east-1\\): .+; check the endpoint, the region and the network$`),
  )
})

test('kinesis errors: rejected credentials read clearly and never show the secret (the proxy answers as AWS does)', async () => {
  const cases = [
    ['UnrecognizedClientException', 'does not recognise the AWS access key id from the writer options'],
    ['InvalidSignatureException', 'rejected the request signature (InvalidSignatureException)'],
    ['ExpiredTokenException', 'has expired (ExpiredTokenException)'],
    ['AccessDeniedException', 'need kinesis:DescribeStreamSummary, kinesis:ListShards and kinesis:PutRecords'],
  ] as const
  for (const [type, expected] of cases) {
    // The answer echoes the secrets, as a careless server might: the writer must still not show them.
    const proxy = await FaultProxy.start(await kinesisEndpoint(), { seed: 1, answer: { status: 400, type, message: `denied for ${SECRET} / ${TOKEN}` } })
    try {
      const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: SECRET, sessionToken: TOKEN }
      const error = await assertRejects(() => writer({ endpoint: proxy.endpoint, credentials }).init(), expected)
      assertNoSecrets(error)
    } finally {
      await proxy.close()
    }
  }
})

test('kinesis errors: ExpiredTokenException on PutRecords with temporary credentials fetches new ones and retries', async () => {
  const client = await testClient()
  const stream = uniqueName('expired')
  await createStream(client, stream, 1)
  let served = 0
  // A local stand-in for the container credentials endpoint, handing out fresh temporary credentials on each call.
  const endpoint = createServer((_req, res) => {
    served++
    res.end(
      JSON.stringify({
        AccessKeyId: `AKIDTEMP${served}`,
        SecretAccessKey: SECRET,
        Token: `${TOKEN}${served}`,
        Expiration: new Date(Date.now() + 3_600_000).toISOString(),
      }),
    )
  })
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve))
  const port = (endpoint.address() as { port: number }).port
  const proxy = await FaultProxy.start(await kinesisEndpoint(), {
    seed: 1,
    answer: { status: 400, type: 'ExpiredTokenException', message: 'The security token included in the request is expired' },
    answerCount: 1,
  })
  try {
    const credentials = CredentialProvider.fromChain({
      env: { AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${port}/creds`, AWS_EC2_METADATA_DISABLED: 'true' },
    })
    const w = writer({ endpoint: proxy.endpoint, streamName: stream, credentials })
    await w.init()
    await w.publish([{ change: fakeChange('0/1:0'), data: utf8('{"n":1}'), partitionKey: 'k' }])
    assertEquals(served, 2, 'credentials fetched at start and again after ExpiredTokenException')
    assertEquals(
      (await readAll(client, stream)).map((r) => r.data),
      ['{"n":1}'],
    )
  } finally {
    await proxy.close()
    await new Promise((resolve) => endpoint.close(resolve))
    await deleteStream(client, stream)
  }
})

test('kinesis errors: an empty partition key (from a user function) is refused before anything of the batch is sent', async () => {
  const client = await testClient()
  const stream = uniqueName('emptykey')
  await createStream(client, stream, 1)
  try {
    const w = writer({ endpoint: await kinesisEndpoint(), streamName: stream })
    await w.init()
    const records = [
      { change: fakeChange('0/1:0'), data: utf8('{"n":0}'), partitionKey: 'fine' },
      { change: fakeChange('0/1:1'), data: utf8('{"n":1}'), partitionKey: '' },
    ]
    await assertRejects(() => w.publish(records), 'record 0/1:1 (logical message "test") has an empty partition key: Kinesis needs 1 to 256 characters')
    assertEquals((await readAll(client, stream)).length, 0, 'nothing of the batch stored')
  } finally {
    await deleteStream(client, stream)
  }
})

test('kinesis errors: a record over 1 MiB stops the pipeline with its id and table; nothing is sent or acknowledged', async () => {
  await withTable({}, async ({ run, stream, sql, slot, before, table }) => {
    const error = await assertRejects(
      run,
      new RegExp(
        `^record [0-9A-F]+/[0-9A-F]+:0 \\(table public\\.${table}\\) is \\d+ bytes with its partition key, over the Kinesis limit of 1048576 bytes \\(1 MiB\\)`,
      ),
    )
    assertEquals((error as Error & { code?: string }).code, 'kinesis_record_too_large')
    await assertNotAcknowledged(sql, slot, before, error)
    assertEquals((await readAll(await testClient(), stream)).length, 0, 'nothing stored')
  })
})

test('kinesis errors: with oversizedRecord "dead-letter" the record goes to the fsynced file and streaming goes on', async () => {
  const path = join(tmpdir(), `${uniqueName('dead')}.jsonl`)
  try {
    await withTable({ oversizedRecord: 'dead-letter', deadLetterPath: path }, async ({ stop, sql, slot, before, table, waitStored }) => {
      const stored = await waitStored(2)
      await stop()
      const letters = readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>)
      assertEquals(letters.length, 1, 'one dead letter')
      assertEquals(letters[0]!.table, `public.${table}`)
      assert(typeof letters[0]!.data === 'string' && (letters[0]!.data as string).length > 1_100_000, 'the dead letter holds the whole record')
      // Rows 2 and 3 have different keys, possibly on different shards: compare as a set.
      assertEquals(stored.map((r) => (JSON.parse(r.data) as { values: number[] }).values[0]!).sort(), [2, 3], 'the rows after it were streamed')
      assert((await confirmed(sql, slot)) !== before, 'the slot advanced')
      assertEquals((statSync(path).mode & 0o777).toString(8), '600', 'the dead-letter file is readable by its owner only')
    })
  } finally {
    rmSync(path, { force: true })
  }
})

test('kinesis errors: when retries run out, publish rejects naming the record and nothing is acknowledged', async () => {
  const proxy = await FaultProxy.start(await kinesisEndpoint(), { seed: 7, throttle: 1 })
  try {
    await withTable(
      { endpoint: proxy.endpoint, maxAttempts: 3 },
      async ({ run, sql, slot, before }) => {
        const error = await assertRejects(
          run,
          /^gave up on Kinesis record [0-9A-F]+\/[0-9A-F]+:\d \(table public\.\w+\) after 3 attempts over [\d.]+ s; last error: ProvisionedThroughputExceededException/,
        )
        assertEquals((error as Error & { code?: string }).code, 'kinesis_gave_up')
        await assertNotAcknowledged(sql, slot, before, error)
      },
      false,
    )
  } finally {
    await proxy.close()
  }
})

interface TableContext {
  readonly run: () => Promise<void>
  readonly stop: () => Promise<void>
  readonly waitStored: (count: number) => Promise<{ data: string }[]>
  readonly stream: string
  readonly sql: postgres.Sql
  readonly slot: string
  readonly table: string
  readonly before: string
}

/** A table whose first transaction holds a 1.2 MB row (a small one if `big` is false), then two small rows; the pipeline runs on demand. */
async function withTable(options: Partial<KinesisWriterOptions>, body: (context: TableContext) => Promise<void>, big = true): Promise<void> {
  const sql = sqlClient()
  const table = uniqueName('big')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  const stream = uniqueName('big')
  const client = await testClient()
  await createStream(client, stream, 2)
  const controller = new AbortController()
  try {
    await sql.unsafe(`create table ${table} (id int primary key, doc text); create publication ${publication} for table ${table}`)
    await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput')`
    const before = await confirmed(sql, slot)
    await sql.unsafe(`insert into ${table} values (1, $1)`, [big ? randomText(1_200_000) : 'small'])
    await sql.unsafe(`insert into ${table} values (2, 'a'), (3, 'b')`)
    const w = new KinesisWriter({
      region: REGION,
      streamName: stream,
      endpoint: await kinesisEndpoint(),
      credentials: TEST_CREDENTIALS,
      retryBaseDelayMs: 5,
      retryMaxDelayMs: 50,
      ...options,
    })
    let done: Promise<void> | undefined
    const start = () =>
      (done ??= runPipeline({
        postgres: { url: TEST_URL, slot, publication, tables: [], createSlot: false, createPublication: false },
        writer: w,
        signal: controller.signal,
      }))
    const waitStored = async (count: number) => {
      start().catch(() => {})
      for (let i = 0; i < 300; i++) {
        const records = await readAll(client, stream)
        if (records.length >= count) return records
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      throw new Error(`fewer than ${count} records stored`)
    }
    await body({ run: start, stop: async () => (controller.abort(), await start()), waitStored, stream, sql, slot, table, before })
  } finally {
    controller.abort()
    await dropSlot(sql, slot).catch(() => {})
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${publication}`)
    await sql.end()
    await deleteStream(client, stream)
  }
}

/**
 * The failing record's transaction was not acknowledged: the slot's confirmed_flush_lsn is still
 * before that transaction's commit (the id is "<commit LSN>:<ordinal>"), so a restart sends it again.
 * It may have moved from where it started: a keepalive received while the pipeline was idle, before
 * the transaction's first message arrived, confirms a WAL position short of the commit — which
 * holds no complete change.
 */
async function assertNotAcknowledged(sql: postgres.Sql, slot: string, before: string, error: Error): Promise<void> {
  const commitLsn = /record ([0-9A-F]+\/[0-9A-F]+):\d+/.exec(error.message)?.[1]
  assert(commitLsn !== undefined, `the message names the record: ${error.message}`)
  const [row] = await sql`select confirmed_flush_lsn < ${commitLsn}::pg_lsn as before_commit, confirmed_flush_lsn >= ${before}::pg_lsn as not_back from
      pg_replication_slots where slot_name = ${slot}`
  assert(
    row?.before_commit === true && row?.not_back === true,
    `slot confirmed_flush_lsn ${await confirmed(sql, slot)} must stay before the commit at ${commitLsn}`,
  )
}

async function confirmed(sql: postgres.Sql, slot: string): Promise<string> {
  const [row] = await sql`select coalesce(confirmed_flush_lsn::text, '') as lsn from pg_replication_slots where slot_name = ${slot}`
  return String(row?.lsn)
}

/** Text that does not compress (TOAST would otherwise shrink it, though pgoutput sends it whole anyway). */
function randomText(length: number): string {
  let text = ''
  while (text.length < length) text += Math.random().toString(36).slice(2)
  return text.slice(0, length)
}

function fakeChange(id: string): Parameters<KinesisWriter['assignChangeToPartitionKey']>[0] {
  return {
    id,
    operation: 'MESSAGE',
    relation: undefined,
    fields: [],
    types: [],
    values: [],
    unchangedToastFields: undefined,
    old: undefined,
    transactionId: 1,
    commitLsn: 1n,
    commitTime: null,
    ordinal: 0,
    truncate: undefined,
    message: { prefix: 'test', content: new Uint8Array(0), transactional: true },
  }
}
