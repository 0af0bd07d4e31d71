import { test } from '../harness.ts'
import { assertEquals } from '../assert.ts'
import { loadConfig, type ConfigSources } from '../../src/config/load.ts'
import { createWriter } from '../../src/writers/registry.ts'
import { KinesisWriter } from '../../src/writers/kinesis/writer.ts'
import { configIssues } from './config-support.ts'

const URL = 'postgres://app@db.internal:5432/app'

function load(sources: Partial<ConfigSources>) {
  return loadConfig({ env: {}, argv: [], ...sources })
}

const problems = (sources: Partial<ConfigSources>): string[] => configIssues(() => load(sources))

const DEFAULTS = {
  type: 'kinesis',
  partitionKey: 'row',
  explicitHashKey: false,
  aggregation: false,
  maxConcurrentRequests: 4,
  maxAttempts: 10,
  maxRetryTimeMs: 120_000,
  requestTimeoutMs: 30_000,
  oversizedRecord: 'fail',
}

test('kinesis config: the --kinesis-* flags choose the Kinesis writer, with every default', () => {
  const config = load({
    argv: [
      '--postgres-url',
      URL,
      '--kinesis-stream',
      'orders',
      '--kinesis-region',
      'eu-west-1',
      '--kinesis-endpoint',
      'http://127.0.0.1:4568',
      '--kinesis-aggregation',
    ],
  })
  assertEquals(config.writer as unknown, { ...DEFAULTS, streamName: 'orders', region: 'eu-west-1', endpoint: 'http://127.0.0.1:4568', aggregation: true })
})

test('kinesis config: environment variables, an ARN, and the region fallbacks (AWS_REGION only fills in)', () => {
  const arn = 'arn:aws:kinesis:ap-south-1:123456789012:stream/orders'
  const env = {
    PG_TO_BROKERS_POSTGRES_URL: URL,
    PG_TO_BROKERS_KINESIS_STREAM: arn,
    PG_TO_BROKERS_KINESIS_ENDPOINT: 'https://vpce-1.kinesis.ap-south-1.vpce.amazonaws.com',
  }
  assertEquals(
    load({ env }).writer as unknown,
    { ...DEFAULTS, streamArn: arn, region: 'ap-south-1', endpoint: env.PG_TO_BROKERS_KINESIS_ENDPOINT },
    'region from the ARN',
  )
  const named = { PG_TO_BROKERS_POSTGRES_URL: URL, PG_TO_BROKERS_KINESIS_STREAM: 'orders' }
  assertEquals((load({ env: { ...named, AWS_DEFAULT_REGION: 'us-west-2' } }).writer as { region: string }).region, 'us-west-2')
  assertEquals((load({ env: { ...named, AWS_REGION: 'eu-north-1', AWS_DEFAULT_REGION: 'us-west-2' } }).writer as { region: string }).region, 'eu-north-1')
  const file = { fileText: JSON.stringify({ writer: { type: 'kinesis', streamName: 'orders', region: 'eu-central-1' } }), filePath: 'cdc.json' }
  assertEquals(
    (load({ ...file, env: { ...named, AWS_REGION: 'eu-north-1' } }).writer as { region: string }).region,
    'eu-central-1',
    'the file region is not replaced by AWS_REGION',
  )
  assertEquals((load({ ...file, env: named, argv: ['--kinesis-region', 'sa-east-1'] }).writer as { region: string }).region, 'sa-east-1', 'flags win')
  assertEquals(load({ env: { PG_TO_BROKERS_POSTGRES_URL: URL, AWS_REGION: 'eu-north-1' } }).writer, { type: 'stdout' }, 'AWS_REGION alone chooses nothing')
})

test('kinesis config: missing or contradictory settings are reported with what to set', () => {
  assertEquals(problems({ argv: ['--postgres-url', URL, '--kinesis-stream', 'orders'] }), [
    'writer.region: required for writer type "kinesis"; set --kinesis-region, AWS_REGION (or AWS_DEFAULT_REGION), or writer.region in the config file',
  ])
  assertEquals(problems({ argv: ['--postgres-url', URL, '--writer', 'kinesis', '--kinesis-region', 'us-east-1'] }), [
    'writer.streamName: required for writer type "kinesis"; set --kinesis-stream, PG_TO_BROKERS_KINESIS_STREAM, ' +
      'or writer.streamName (or writer.streamArn) in the config file',
  ])
  const file = (writer: Record<string, unknown>) => ({
    fileText: JSON.stringify({ postgres: { url: URL }, writer: { type: 'kinesis', region: 'us-east-1', ...writer } }),
    filePath: 'cdc.json',
  })
  assertEquals(problems(file({ streamName: 'a', oversizedRecord: 'dead-letter' })), [
    'writer.deadLetterPath: required with oversizedRecord "dead-letter" (records over 1 MiB are appended to this file)',
  ])
  assertEquals(problems(file({ streamName: 'a', streamArn: 'arn:aws:kinesis:eu-west-1:123456789012:stream/a' })), [
    'writer.streamArn: give either streamName or streamArn, not both',
    'writer.region: "us-east-1" differs from the region in writer.streamArn ("eu-west-1")',
  ])
  assertEquals(problems(file({ streamName: 'a b', region: 'Virginia', endpoint: 'kinesis.local', partitionKey: 'column', maxConcurrentRequests: 0 })), [
    'writer.streamName: expected a stream name: 1 to 128 letters, digits, "_", "." or "-", got "a b"',
    'writer.region: expected an AWS region such as "us-east-1", got "Virginia"',
    'writer.endpoint: expected an http:// or https:// URL, e.g. "http://127.0.0.1:4568", got "kinesis.local"',
    'writer.partitionKey: expected "row", "table" or "constant", got "column"',
    'writer.maxConcurrentRequests: expected an integer from 1 to 64, got 0',
  ])
  assertEquals(problems({ argv: ['--postgres-url', URL, '--file', 'x.jsonl', '--kinesis-stream', 'orders'] }), [
    'writer: --file and a --kinesis-* flag both choose a writer; give only one',
  ])
})

test('kinesis config: the registry builds a KinesisWriter, importing it only then', async () => {
  const config = load({ argv: ['--postgres-url', URL, '--kinesis-stream', 'orders', '--kinesis-region', 'us-east-1'] })
  const writer = await createWriter(config.writer, (path) => path)
  assertEquals(writer instanceof KinesisWriter, true)
})
