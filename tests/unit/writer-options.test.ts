// One schema per writer: the config section and the writer's constructor refuse the same values with the same words.
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { ConfigError, loadConfig } from '../../src/config/load.ts'
import { KafkaWriter } from '../../src/writers/kafka/writer.ts'
import { KinesisWriter } from '../../src/writers/kinesis/writer.ts'

const URL = 'postgres://u@127.0.0.1:5432/db'

/** The config's problems for a writer section, without their "writer." prefix. */
function configProblems(writer: Record<string, unknown>): string[] {
  try {
    loadConfig({ env: {}, argv: [], fileText: JSON.stringify({ postgres: { url: URL }, writer }), filePath: 'c.json' })
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((issue) => issue.replace(/^writer\./, ''))
    throw error
  }
  return []
}

/** The constructor's message, without its "<Writer> writer: " prefix. */
function constructorProblem(build: () => unknown): string {
  try {
    build()
  } catch (error) {
    return (error as Error).message.replace(/^\w+ writer: /, '')
  }
  return ''
}

test('writer options: Kafka brokers, topics, timeouts and TLS are checked by one schema', () => {
  const cases: Record<string, unknown>[] = [
    { brokers: ['no-port'], topic: 't' },
    { brokers: [], topic: 't' },
    { brokers: ['a:1'], topic: 'bad topic' },
    { brokers: ['a:1'], topicTemplate: 'cdc.{schema}' },
    { brokers: ['a:1'], topic: 't', deliveryTimeoutMs: 10 },
    { brokers: ['a:1'], topic: 't', compression: 'brotli' },
    { brokers: ['a:1'], topic: 't', ssl: { caFile: '' } },
    { brokers: ['a:1'], topic: 't', oversizedRecord: 'dead-letter' },
    { brokers: ['a:1'], topic: 't', sasl: { mechanism: 'plain', username: 'u', password: 5 } },
  ]
  for (const options of cases) {
    const fromConfig = configProblems({ type: 'kafka', ...options })
    assertEquals(fromConfig.length, 1, `one problem for ${JSON.stringify(options)}: ${fromConfig.join(' | ')}`)
    const fromConstructor = constructorProblem(() => new KafkaWriter(options as never))
    // The config may add where to set a missing value; the rule and its words are the same.
    assert(fromConstructor !== '' && fromConfig[0]!.startsWith(fromConstructor), `${fromConstructor} | ${fromConfig[0]}`)
  }
})

test('writer options: Kinesis streams, regions, endpoints and limits are checked by one schema', () => {
  const base = { region: 'us-east-1', streamName: 'orders' }
  const cases: Record<string, unknown>[] = [
    { ...base, streamName: 'a b' },
    { region: 'us-east-1', streamArn: 'arn:aws:kinesis:us-east-1:1:stream/x' },
    { ...base, region: 'Virginia' },
    { ...base, endpoint: 'kinesis.local' },
    { ...base, maxConcurrentRequests: 65 },
    { ...base, requestTimeoutMs: 5 },
    { ...base, constantKey: 'k' },
    { ...base, streamArn: 'arn:aws:kinesis:us-east-1:123456789012:stream/orders' },
  ]
  for (const options of cases) {
    const fromConfig = configProblems({ type: 'kinesis', ...options })
    assertEquals(fromConfig.length, 1, `one problem for ${JSON.stringify(options)}: ${fromConfig.join(' | ')}`)
    const fromConstructor = constructorProblem(() => new KinesisWriter({ ...options, credentials: { accessKeyId: 'a', secretAccessKey: 's' } }))
    assertEquals(fromConstructor, fromConfig[0]!.replace(/writer\./g, ''))
  }
})
