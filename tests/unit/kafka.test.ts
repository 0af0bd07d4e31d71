import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { KAFKA_ENV } from '../../src/writers/kafka/descriptor.ts'
import { HELP_TEXT } from '../../src/cli/help.ts'
import { loadConfig } from '../../src/config/load.ts'
import { sanitizeTopicName, topicNameProblem, topicTemplateProblem } from '../../src/writers/kafka/topics.ts'
import { splitBySize, type KafkaMessage } from '../../src/writers/kafka/messages.ts'

const URL = 'postgres://u@127.0.0.1:5432/db'

test('kafka topics: names map onto legal topic characters, long names stay distinct', () => {
  assertEquals(sanitizeTopicName('cdc.public.Order Items'), 'cdc.public.Order_Items')
  assertEquals(sanitizeTopicName('cdc.sales.Bücher/2024'), 'cdc.sales.B_cher_2024')
  assertEquals(sanitizeTopicName('..'), '__')
  const long = sanitizeTopicName('t'.repeat(300))
  assertEquals(long.length, 249)
  assert(long !== sanitizeTopicName('t'.repeat(301)), 'different long names stay different')
  assertEquals(topicNameProblem('ok.name-1_x'), undefined)
  assert(topicNameProblem('bad name') !== undefined, 'spaces are illegal')
  assertEquals(topicTemplateProblem('cdc.{schema}.{table}'), undefined)
  assert(topicTemplateProblem('cdc.{schema}') !== undefined, 'a template needs {table}')
  assert(topicTemplateProblem('cdc.{db}.{table}') !== undefined, 'unknown placeholders are refused')
})

test('kafka messages: requests are cut by size, in order; a record over the limit goes alone', () => {
  const message = (id: number, bytes: number): KafkaMessage => ({
    topic: 't',
    key: 'k',
    value: new Uint8Array(bytes).fill(0x78),
    headers: new Map([['id', `0/1:${id}`]]),
  })
  const runs = splitBySize([message(0, 300), message(1, 300), message(2, 5000), message(3, 10)], 1000)
  assertEquals(
    runs.map((run) => run.map((m) => m.headers.get('id'))),
    [['0/1:0', '0/1:1'], ['0/1:2'], ['0/1:3']],
  )
})

test('kafka config: flags, environment and file give one writer; the password is never shown', () => {
  const config = loadConfig({
    argv: ['--postgres-url', URL, '--kafka-topic-template', 'cdc.{schema}.{table}'],
    env: {
      [KAFKA_ENV.brokers]: 'a:9092, b:9092',
      [KAFKA_ENV.saslMechanism]: 'scram-sha-512',
      [KAFKA_ENV.saslUsername]: 'cdc',
      [KAFKA_ENV.saslPassword]: 'hunter2',
    },
  })
  assertEquals(config.writer, {
    type: 'kafka',
    brokers: ['a:9092', 'b:9092'],
    topicTemplate: 'cdc.{schema}.{table}',
    clientId: 'pg-to-brokers',
    compression: 'none',
    sasl: { mechanism: 'scram-sha-512', username: 'cdc', password: 'hunter2' },
    deliveryTimeoutMs: 120000,
    connectTimeoutMs: 10000,
    maxRequestBytes: 1000000,
    oversizedRecord: 'fail',
    tombstones: false,
  })
  const bad = JSON.stringify({ postgres: { url: URL }, writer: { type: 'kafka', brokers: ['a:1'], topic: 'bad topic', sasl: 'hunter2' } })
  let message = ''
  try {
    loadConfig({ argv: [], env: {}, fileText: bad, filePath: 'c.json' })
  } catch (error) {
    message = (error as Error).message
  }
  assert(message.includes('writer.topic: a topic name uses only letters'), message)
  assert(message.includes('writer.sasl: expected an object'), message)
  assert(!message.includes('hunter2'), `no password in ${message}`)
})

test('kafka config: dead letters and tombstones from flags and environment; dead-letter needs its path', () => {
  const base = ['--postgres-url', URL, '--kafka-brokers', 'a:9092', '--kafka-topic', 't']
  const flags = loadConfig({
    argv: [...base, '--kafka-oversized-record', 'dead-letter', '--kafka-dead-letter-path', 'too-big.jsonl', '--kafka-tombstones'],
    env: {},
  })
  assert(
    flags.writer.type === 'kafka' &&
      flags.writer.oversizedRecord === 'dead-letter' &&
      flags.writer.deadLetterPath === 'too-big.jsonl' &&
      flags.writer.tombstones,
    JSON.stringify(flags.writer),
  )
  const env = loadConfig({
    argv: base,
    env: { [KAFKA_ENV.oversizedRecord]: 'dead-letter', [KAFKA_ENV.deadLetterPath]: 'x.jsonl', [KAFKA_ENV.tombstones]: '1' },
  })
  assert(env.writer.type === 'kafka' && env.writer.deadLetterPath === 'x.jsonl' && env.writer.tombstones, JSON.stringify(env.writer))
  const problems = (argv: string[], environment: Record<string, string> = {}): string => {
    try {
      loadConfig({ argv: [...base, ...argv], env: environment })
      return ''
    } catch (error) {
      return (error as Error).message
    }
  }
  assert(
    problems(['--kafka-oversized-record', 'dead-letter']).includes('writer.deadLetterPath: required with oversizedRecord "dead-letter"'),
    'dead-letter needs a path',
  )
  assert(problems(['--kafka-oversized-record', 'skip']).includes('writer.oversizedRecord: expected "fail" or "dead-letter"'), 'only the two policies')
  assert(
    problems([], { [KAFKA_ENV.tombstones]: 'yes' }).includes('writer.tombstones (PG_TO_BROKERS_KAFKA_TOMBSTONES): expected true, false, 1 or 0'),
    'tombstones is a boolean',
  )
})

test('kafka help: names every Kafka environment variable', () => {
  for (const name of Object.values(KAFKA_ENV)) assert(HELP_TEXT.includes(name), `help mentions ${name}`)
})
