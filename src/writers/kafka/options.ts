/** @module The Kafka writer's options, their defaults, and the checks a library user gets without the config schema. */
import { PgToBrokersError } from '../../errors.ts'
import type { Logger } from '../../logger.ts'
import { fixedTopic, templateTopic, type TopicRouter } from './topics.ts'

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

const BROKER = /^(\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+):(\d{1,5})$/

/** Fills in defaults and checks what the config schema would. @throws PgToBrokersError (code kafka_config). */
export function resolveKafkaOptions(options: KafkaWriterOptions): ResolvedKafkaOptions {
  const fail = (message: string): never => {
    throw new PgToBrokersError('kafka_config', `Kafka writer: ${message}`)
  }
  if (options.brokers.length === 0) fail('brokers is empty: give at least one "host:port"')
  const badBroker = options.brokers.find((b) => !BROKER.test(b))
  if (badBroker !== undefined) fail(`broker ${JSON.stringify(badBroker)} is not "host:port"`)
  if ((options.topic === undefined) === (options.topicTemplate === undefined)) fail('give exactly one of topic and topicTemplate')
  let router: TopicRouter
  try {
    router = options.topic !== undefined ? fixedTopic(options.topic) : templateTopic(options.topicTemplate!)
  } catch (error) {
    return fail((error as Error).message)
  }
  const clientId = options.clientId ?? KAFKA_DEFAULTS.clientId
  const oversizedRecord = options.oversizedRecord ?? KAFKA_DEFAULTS.oversizedRecord
  if (oversizedRecord === 'dead-letter' && !options.deadLetterPath) fail('oversizedRecord "dead-letter" needs deadLetterPath (the file dead letters are appended to)')
  const ssl = options.ssl === true ? {} : options.ssl === false ? undefined : options.ssl
  return {
    brokers: options.brokers,
    router,
    fixedTopic: options.topic,
    clientId,
    compression: options.compression ?? KAFKA_DEFAULTS.compression,
    sasl: options.sasl,
    ssl,
    deliveryTimeoutMs: options.deliveryTimeoutMs ?? KAFKA_DEFAULTS.deliveryTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs ?? KAFKA_DEFAULTS.connectTimeoutMs,
    maxRequestBytes: options.maxRequestBytes ?? KAFKA_DEFAULTS.maxRequestBytes,
    oversizedRecord,
    deadLetterPath: options.deadLetterPath,
    tombstones: options.tombstones ?? KAFKA_DEFAULTS.tombstones,
  }
}

/** "host:port" → { host, port }; IPv6 hosts are written in brackets. */
export function parseBroker(text: string): { host: string; port: number } {
  const match = BROKER.exec(text)
  if (!match) throw new PgToBrokersError('kafka_config', `Kafka writer: broker ${JSON.stringify(text)} is not "host:port"`)
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port: Number(match[2]) }
}
