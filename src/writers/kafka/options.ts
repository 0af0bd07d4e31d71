/**
 * @module The Kafka writer's options: their schema and defaults, which the config section
 * (writer type "kafka") and the KafkaWriter constructor both check against, and the checks across fields.
 */
import * as v from 'valibot'
import { PgToBrokersError } from '../../errors.ts'
import { bool, choice, integer, matching, nonEmpty, objectOnly, strict } from '../../fields.ts'
import type { Logger } from '../../logger.ts'
import { checkedOptions, type OptionProblem } from '../checked-options.ts'
import { fixedTopic, templateTopic, topicNameProblem, topicTemplateProblem, type TopicRouter } from './topics.ts'

export type KafkaCompression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'
export type KafkaSaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512'

/** SASL credentials. The password is never logged nor put in an error message. */
export interface KafkaSaslOptions {
  readonly mechanism: KafkaSaslMechanism
  readonly username: string
  readonly password: string
}

/** TLS to the brokers. Files are PEM; without `caFile` the runtime's trusted CAs are used. */
export interface KafkaSslOptions {
  readonly caFile?: string | undefined
  readonly certFile?: string | undefined
  readonly keyFile?: string | undefined
  /** Check the brokers' certificates (default true). Turn off only for a test cluster. */
  readonly rejectUnauthorized?: boolean | undefined
}

export interface KafkaWriterOptions {
  /** Bootstrap servers as "host:port". */
  readonly brokers: readonly string[]
  /** Every change to this topic. Give `topic` or `topicTemplate`, not both. */
  readonly topic?: string | undefined
  /** One topic per table, e.g. "cdc.{schema}.{table}" (see sanitizeTopicName for the character mapping). */
  readonly topicTemplate?: string | undefined
  /** Default "pg-to-brokers". */
  readonly clientId?: string | undefined
  /** Default "none". zstd needs a runtime whose node:zlib has zstd (Node ≥ 22.15; not Node 20). */
  readonly compression?: KafkaCompression | undefined
  readonly sasl?: KafkaSaslOptions | undefined
  /** TLS: true for the runtime's trusted CAs, or an object with PEM files. */
  readonly ssl?: boolean | KafkaSslOptions | undefined
  /** How long a batch may wait for the brokers (retrying) before publish fails. Default 120000. */
  readonly deliveryTimeoutMs?: number | undefined
  /** How long init may take to reach the brokers and find the topic. Default 10000. */
  readonly connectTimeoutMs?: number | undefined
  /**
   * Most bytes (keys, values, headers) in one produce request: the client puts all of a request's
   * records for a partition into one record batch, which the broker refuses above its
   * message.max.bytes (1048588 by default). Default 1000000.
   */
  readonly maxRequestBytes?: number | undefined
  /**
   * A record the brokers refuse as too large even when sent alone (MESSAGE_TOO_LARGE: over the
   * topic's max.message.bytes): 'fail' (default: publish rejects naming it) or 'dead-letter'
   * (append it to deadLetterPath and go on).
   */
  readonly oversizedRecord?: 'fail' | 'dead-letter' | undefined
  readonly deadLetterPath?: string | undefined
  /**
   * After each DELETE record, send a tombstone: a message with the same key and a null value, so a
   * log-compacted topic drops the key (Debezium's tombstones.on.delete). Default false.
   */
  readonly tombstones?: boolean | undefined
  /** Where dead letters are reported. Default: nowhere. */
  readonly logger?: Logger | undefined
}

/** Options with every default filled in and the topic router built. */
export interface ResolvedKafkaOptions {
  readonly brokers: readonly string[]
  readonly router: TopicRouter
  /** The fixed topic, checked at init; undefined with a template. */
  readonly fixedTopic: string | undefined
  readonly clientId: string
  readonly compression: KafkaCompression
  readonly sasl: KafkaSaslOptions | undefined
  readonly ssl: KafkaSslOptions | undefined
  readonly deliveryTimeoutMs: number
  readonly connectTimeoutMs: number
  readonly maxRequestBytes: number
  readonly oversizedRecord: 'fail' | 'dead-letter'
  readonly deadLetterPath: string | undefined
  readonly tombstones: boolean
}

export const KAFKA_DEFAULTS = {
  clientId: 'pg-to-brokers',
  compression: 'none',
  deliveryTimeoutMs: 120_000,
  connectTimeoutMs: 10_000,
  maxRequestBytes: 1_000_000,
  oversizedRecord: 'fail',
  tombstones: false,
} as const

/** Option paths whose values are never shown in messages. */
export const KAFKA_SECRET_PATHS: readonly string[] = ['sasl', 'sasl.password']

const BROKER = /^(\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+):(\d{1,5})$/
const BROKER_EXPECTED = 'expected "host:port", e.g. "127.0.0.1:9092"'

const checked = (problem: (text: string) => string | undefined, fallback: string) =>
  v.pipe(
    v.string(`expected ${fallback}`),
    v.check(
      (text) => problem(text) === undefined,
      (issue) => problem(String(issue.input)) ?? fallback,
    ),
  )

const sasl = strict(
  {
    mechanism: choice(['plain', 'scram-sha-256', 'scram-sha-512']),
    username: nonEmpty('a user name'),
    password: v.string('expected the password as a string (value not shown)'),
  },
  ' in writer.sasl',
  { password: 'required with writer.sasl; set PG_TO_BROKERS_KAFKA_SASL_PASSWORD or writer.sasl.password in the config file' },
)
const ssl = strict(
  {
    caFile: v.optional(nonEmpty('a PEM file path')),
    certFile: v.optional(nonEmpty('a PEM file path')),
    keyFile: v.optional(nonEmpty('a PEM file path')),
    rejectUnauthorized: v.optional(bool, true),
  },
  ' in writer.ssl',
)

/** The schema of every option that has a text form (all but `logger`), with its default. */
export const KAFKA_OPTION_ENTRIES = {
  brokers: v.pipe(
    v.array(matching(BROKER, BROKER_EXPECTED), 'expected a list of "host:port" bootstrap servers'),
    v.minLength(1, 'expected at least one "host:port"'),
  ),
  topic: v.optional(checked(topicNameProblem, 'a Kafka topic name')),
  topicTemplate: v.optional(checked(topicTemplateProblem, 'a topic template such as "cdc.{schema}.{table}"')),
  clientId: v.optional(nonEmpty('a client id'), KAFKA_DEFAULTS.clientId),
  compression: v.optional(choice(['none', 'gzip', 'snappy', 'lz4', 'zstd']), KAFKA_DEFAULTS.compression),
  sasl: v.optional(objectOnly(sasl, 'expected an object like {"mechanism": "scram-sha-256", "username": "…", "password": "…"}')),
  ssl: v.optional(v.union([bool, objectOnly(ssl)], 'expected true, false or an object like {"caFile": "ca.pem"}')),
  deliveryTimeoutMs: v.optional(integer(1_000, 86_400_000), KAFKA_DEFAULTS.deliveryTimeoutMs),
  connectTimeoutMs: v.optional(integer(100, 600_000), KAFKA_DEFAULTS.connectTimeoutMs),
  maxRequestBytes: v.optional(integer(1_024, 1_073_741_824), KAFKA_DEFAULTS.maxRequestBytes),
  oversizedRecord: v.optional(choice(['fail', 'dead-letter']), KAFKA_DEFAULTS.oversizedRecord),
  deadLetterPath: v.optional(nonEmpty('a file path')),
  tombstones: v.optional(bool, KAFKA_DEFAULTS.tombstones),
}

/** Options as the schema leaves them: checked, with every default. */
export type KafkaSettings = v.InferOutput<v.ObjectSchema<typeof KAFKA_OPTION_ENTRIES, undefined>>

/** What no single option's schema can see: topic or template, and a dead-letter policy without its file. */
export function kafkaProblems(options: Pick<KafkaSettings, 'topic' | 'topicTemplate' | 'oversizedRecord' | 'deadLetterPath'>): OptionProblem[] {
  const problems: OptionProblem[] = []
  if (options.topic !== undefined && options.topicTemplate !== undefined)
    problems.push({ key: 'topic', problem: 'give either a topic or a topic template, not both' })
  if (options.topic === undefined && options.topicTemplate === undefined)
    problems.push({ key: 'topic', problem: 'required: give a topic or a topic template', missing: true })
  if (options.oversizedRecord === 'dead-letter' && options.deadLetterPath === undefined) {
    problems.push({
      key: 'deadLetterPath',
      problem: 'required with oversizedRecord "dead-letter" (records Kafka refuses as too large are appended to this file)',
      missing: true,
    })
  }
  return problems
}

/** Fills in defaults and checks the options as the config schema does. @throws PgToBrokersError (code kafka_config). */
export function resolveKafkaOptions(options: KafkaWriterOptions): ResolvedKafkaOptions {
  const settings = checkedOptions(v.object(KAFKA_OPTION_ENTRIES), options, 'Kafka writer', 'kafka_config', KAFKA_SECRET_PATHS)
  const problem = kafkaProblems(settings)[0]
  if (problem !== undefined) throw new PgToBrokersError('kafka_config', `Kafka writer: ${problem.key}: ${problem.problem}`)
  const router: TopicRouter = settings.topic !== undefined ? fixedTopic(settings.topic) : templateTopic(settings.topicTemplate!)
  return {
    ...settings,
    router,
    fixedTopic: settings.topic,
    sasl: settings.sasl,
    ssl: settings.ssl === true ? {} : settings.ssl === false ? undefined : settings.ssl,
    deadLetterPath: settings.deadLetterPath,
  }
}

/** "host:port" → { host, port }; IPv6 hosts are written in brackets. */
export function parseBroker(text: string): { host: string; port: number } {
  const match = BROKER.exec(text)
  if (!match) throw new PgToBrokersError('kafka_config', `Kafka writer: broker ${JSON.stringify(text)} is not "host:port"`)
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port: Number(match[2]) }
}
