/**
 * @module Writer type "kafka" as the config and the CLI see it: its section's schema, flags and
 * environment variables with their help, and a factory that loads the Kafka client only when chosen.
 */
import * as v from 'valibot'
import { strict } from '../../fields.ts'
import { defineWriter, type WriterSetting } from '../descriptor.ts'
import { KAFKA_DEFAULTS, KAFKA_OPTION_ENTRIES, KAFKA_SECRET_PATHS, kafkaProblems } from './options.ts'

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

const SETTINGS: readonly WriterSetting[] = [
  {
    key: 'brokers',
    flag: '--kafka-brokers',
    arg: '<host:port,…>',
    env: KAFKA_ENV.brokers,
    list: true,
    help: [`bootstrap servers (required); env ${KAFKA_ENV.brokers}`],
  },
  { key: 'topic', flag: '--kafka-topic', arg: '<topic>', env: KAFKA_ENV.topic, help: [`send every change to this topic; env ${KAFKA_ENV.topic}`] },
  {
    key: 'topicTemplate',
    flag: '--kafka-topic-template',
    arg: '<template>',
    env: KAFKA_ENV.topicTemplate,
    help: [
      'one topic per table, e.g. cdc.{schema}.{table}; characters other',
      'than letters, digits, . _ - become _ (give a topic or a template)',
      `env ${KAFKA_ENV.topicTemplate}`,
    ],
  },
  { key: 'clientId', flag: '--kafka-client-id', arg: '<id>', env: KAFKA_ENV.clientId, help: [`env ${KAFKA_ENV.clientId}; default ${KAFKA_DEFAULTS.clientId}`] },
  {
    key: 'compression',
    flag: '--kafka-compression',
    arg: '<none|gzip|snappy|lz4|zstd>',
    env: KAFKA_ENV.compression,
    help: [`env ${KAFKA_ENV.compression}; default ${KAFKA_DEFAULTS.compression} (zstd needs`, 'Node >= 22.15, Deno or Bun)'],
  },
  {
    key: 'sasl.mechanism',
    flag: '--kafka-sasl-mechanism',
    arg: '<plain|scram-sha-256|scram-sha-512>',
    env: KAFKA_ENV.saslMechanism,
    help: [`env ${KAFKA_ENV.saslMechanism}; default: no SASL`],
  },
  {
    key: 'sasl.username',
    flag: '--kafka-sasl-username',
    arg: '<name>',
    env: KAFKA_ENV.saslUsername,
    help: [`env ${KAFKA_ENV.saslUsername}; the password only from`, `env ${KAFKA_ENV.saslPassword} or the config file`],
  },
  { key: 'sasl.password', env: KAFKA_ENV.saslPassword, help: [] },
  {
    key: 'ssl',
    flag: '--kafka-ssl',
    env: KAFKA_ENV.ssl,
    help: [
      "TLS to the brokers (the runtime's trusted CAs; CA, certificate and",
      "key files in the config file's writer.ssl)",
      `env ${KAFKA_ENV.ssl} (true/false/1/0); default off`,
    ],
  },
  {
    key: 'oversizedRecord',
    flag: '--kafka-oversized-record',
    arg: '<fail|dead-letter>',
    env: KAFKA_ENV.oversizedRecord,
    help: [
      "a record Kafka refuses as too large even alone (over the topic's",
      'max.message.bytes): fail naming it, or append it to the dead-letter',
      `file and go on; env ${KAFKA_ENV.oversizedRecord}; default ${KAFKA_DEFAULTS.oversizedRecord}`,
    ],
  },
  {
    key: 'deadLetterPath',
    flag: '--kafka-dead-letter-path',
    arg: '<path>',
    env: KAFKA_ENV.deadLetterPath,
    help: ['the dead-letter file (JSON lines, fsynced, created with mode 0600)', `env ${KAFKA_ENV.deadLetterPath}`],
  },
  {
    key: 'tombstones',
    flag: '--kafka-tombstones',
    env: KAFKA_ENV.tombstones,
    help: ['after each DELETE, send its key with a null value, so log-compacted', `topics drop the key; env ${KAFKA_ENV.tombstones}; default off`],
  },
]

/** How to set what kafkaProblems finds missing, for a CLI user. */
const HOW_TO_SET: Readonly<Record<string, string>> = {
  topic:
    `required for writer type "kafka"; set --kafka-topic (one topic) or --kafka-topic-template (one topic per table, e.g. ` +
    `"cdc.{schema}.{table}"), or ${KAFKA_ENV.topic} / ${KAFKA_ENV.topicTemplate}`,
  deadLetterPath:
    `required with oversizedRecord "dead-letter" (records Kafka refuses as too large are appended to this file); ` +
    `set --kafka-dead-letter-path or ${KAFKA_ENV.deadLetterPath}`,
}

export const kafkaWriter = defineWriter({
  type: 'kafka',
  schema: strict({ type: v.literal('kafka'), ...KAFKA_OPTION_ENTRIES }, ' for writer type "kafka"', {
    brokers: `required for writer type "kafka"; set --kafka-brokers, ${KAFKA_ENV.brokers}, or writer.brokers in the config file`,
  }),
  settings: SETTINGS,
  groupNames: { flags: 'a --kafka-* flag', env: 'a PG_TO_BROKERS_KAFKA_* variable' },
  help: {
    title: 'Kafka writer (--writer kafka; any --kafka-* flag or PG_TO_BROKERS_KAFKA_* variable implies it):',
    notes: [
      'Messages: key = the partition key (primary-key values by default), value = the record, headers',
      'id, lsn, transaction_id, operation, table_name. The producer is idempotent with acks=all;',
      `topics are never created. Only in the config file: writer.deliveryTimeoutMs (${KAFKA_DEFAULTS.deliveryTimeoutMs}),`,
      `writer.connectTimeoutMs (${KAFKA_DEFAULTS.connectTimeoutMs}), writer.maxRequestBytes (${KAFKA_DEFAULTS.maxRequestBytes}), writer.ssl.{caFile,`,
      'certFile, keyFile, rejectUnauthorized}.',
    ],
  },
  secretPaths: KAFKA_SECRET_PATHS,
  problems(section) {
    return kafkaProblems(section).map(({ key, problem, missing }) => `writer.${key}: ${(missing && HOW_TO_SET[key]) || problem}`)
  },
  async create(section, { logger }) {
    // Imported only now, so the Kafka client is loaded (and bundled) only for those who use it.
    const { KafkaWriter } = await import('./mod.ts')
    return new KafkaWriter({ ...section, logger })
  },
})
