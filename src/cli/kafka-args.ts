/** @module The Kafka writer's flags and environment variables, as config overrides (the schema checks the values). */
import type { KafkaOverrides } from '../config/kafka.ts'

// Local twins of args.ts's helpers: args.ts imports this file, and an import cycle would be fragile.
const splitList = (text: string): string[] => text.split(',').map((item) => item.trim()).filter((item) => item !== '')
const booleanFromText = (text: string): boolean | undefined => {
  const word = text.trim().toLowerCase()
  return word === 'true' || word === '1' ? true : word === 'false' || word === '0' ? false : undefined
}

/** Environment variables of the Kafka writer. The SASL password is read only from here or the config file, never a flag. */
export const KAFKA_ENV = {
  brokers: 'PG_TO_BROKERS_KAFKA_BROKERS',
  topic: 'PG_TO_BROKERS_KAFKA_TOPIC',
  topicTemplate: 'PG_TO_BROKERS_KAFKA_TOPIC_TEMPLATE',
  clientId: 'PG_TO_BROKERS_KAFKA_CLIENT_ID',
  compression: 'PG_TO_BROKERS_KAFKA_COMPRESSION',
  saslMechanism: 'PG_TO_BROKERS_KAFKA_SASL_MECHANISM',
  saslUsername: 'PG_TO_BROKERS_KAFKA_SASL_USERNAME',
  saslPassword: 'PG_TO_BROKERS_KAFKA_SASL_PASSWORD',
  ssl: 'PG_TO_BROKERS_KAFKA_SSL',
  oversizedRecord: 'PG_TO_BROKERS_KAFKA_OVERSIZED_RECORD',
  deadLetterPath: 'PG_TO_BROKERS_KAFKA_DEAD_LETTER_PATH',
  tombstones: 'PG_TO_BROKERS_KAFKA_TOMBSTONES',
} as const

type TextSetter = (kafka: KafkaOverrides, text: string) => void

/** Value flags: name, usage and what they set. Each implies writer type "kafka". */
export const KAFKA_VALUE_FLAGS: readonly (readonly [string, string, TextSetter])[] = [
  ['--kafka-brokers', '<host:port,…>', (k, x) => void (k.brokers = splitList(x))],
  ['--kafka-topic', '<topic>', (k, x) => void (k.topic = x)],
  ['--kafka-topic-template', '<template>', (k, x) => void (k.topicTemplate = x)],
  ['--kafka-client-id', '<id>', (k, x) => void (k.clientId = x)],
  ['--kafka-compression', '<none|gzip|snappy|lz4|zstd>', (k, x) => void (k.compression = x)],
  ['--kafka-sasl-mechanism', '<plain|scram-sha-256|scram-sha-512>', (k, x) => void (k.sasl = { ...k.sasl, mechanism: x })],
  ['--kafka-sasl-username', '<name>', (k, x) => void (k.sasl = { ...k.sasl, username: x })],
  ['--kafka-oversized-record', '<fail|dead-letter>', (k, x) => void (k.oversizedRecord = x)],
  ['--kafka-dead-letter-path', '<path>', (k, x) => void (k.deadLetterPath = x)],
]

/** Switches (each also has a --no- form). */
export const KAFKA_SWITCHES: readonly (readonly [string, (kafka: KafkaOverrides, on: boolean) => void])[] = [
  ['--kafka-ssl', (k, on) => void (k.ssl = on)],
  ['--kafka-tombstones', (k, on) => void (k.tombstones = on)],
]

/** The Kafka settings the environment gives, or undefined when it gives none. */
export function kafkaFromEnv(get: (name: string) => string | undefined, issues: string[]): KafkaOverrides | undefined {
  const kafka: KafkaOverrides = {}
  const text: [keyof typeof KAFKA_ENV, TextSetter][] = [
    ['brokers', (k, x) => void (k.brokers = splitList(x))],
    ['topic', (k, x) => void (k.topic = x)],
    ['topicTemplate', (k, x) => void (k.topicTemplate = x)],
    ['clientId', (k, x) => void (k.clientId = x)],
    ['compression', (k, x) => void (k.compression = x)],
    ['saslMechanism', (k, x) => void (k.sasl = { ...k.sasl, mechanism: x })],
    ['saslUsername', (k, x) => void (k.sasl = { ...k.sasl, username: x })],
    // Taken as it is: a password may begin or end with spaces.
    ['saslPassword', (k, x) => void (k.sasl = { ...k.sasl, password: x })],
    ['oversizedRecord', (k, x) => void (k.oversizedRecord = x)],
    ['deadLetterPath', (k, x) => void (k.deadLetterPath = x)],
  ]
  for (const [key, set] of text) {
    const value = get(KAFKA_ENV[key])
    if (value !== undefined) set(kafka, value)
  }
  for (const key of ['ssl', 'tombstones'] as const) {
    const value = get(KAFKA_ENV[key])
    if (value === undefined) continue
    const on = booleanFromText(value)
    if (on === undefined) issues.push(`writer.${key} (${KAFKA_ENV[key]}): expected true, false, 1 or 0, got ${JSON.stringify(value)}`)
    else kafka[key] = on
  }
  return Object.keys(kafka).length > 0 ? kafka : undefined
}
