/**
 * @module The configuration of writer type "kafka": its schema (built from schema.ts's field
 * helpers, handed in to avoid an import cycle) and the cross-field checks a schema cannot word well.
 */
import * as v from 'valibot'
import { topicNameProblem, topicTemplateProblem } from '../writers/kafka/topics.ts'
import type { SchemaFields } from './schema.ts'

/** Setting paths whose values are never shown in messages. */
export const KAFKA_SECRET_PATHS: readonly string[] = ['writer.sasl', 'writer.sasl.password']

const BROKER_EXPECTED = 'expected "host:port", e.g. "127.0.0.1:9092"'
const broker = v.pipe(v.string(BROKER_EXPECTED), v.regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+):\d{1,5}$/, BROKER_EXPECTED))

const checked = (problem: (text: string) => string | undefined, fallback: string) =>
  v.pipe(
    v.string(`expected ${fallback}`),
    v.check((text) => problem(text) === undefined, (issue) => problem(String(issue.input)) ?? fallback),
  )

/** What the environment or flags set of a kafka writer section; text is checked later by the schema. */
export interface KafkaOverrides {
  brokers?: string[]
  topic?: string
  topicTemplate?: string
  clientId?: string
  compression?: string
  sasl?: { mechanism?: string; username?: string; password?: string }
  ssl?: boolean
  oversizedRecord?: string
  deadLetterPath?: string
  tombstones?: boolean
}

/** The schema of `{ "type": "kafka", … }`, with every default. */
export function kafkaWriterSchema(f: SchemaFields) {
  const sasl = f.strict(
    {
      mechanism: f.choice(['plain', 'scram-sha-256', 'scram-sha-512']),
      username: f.nonEmpty('a user name'),
      password: v.string('expected the password as a string (value not shown)'),
    },
    ' in writer.sasl',
    { password: 'required with writer.sasl; set PG_TO_BROKERS_KAFKA_SASL_PASSWORD or writer.sasl.password in the config file' },
  )
  const ssl = f.strict(
    {
      caFile: v.optional(f.nonEmpty('a PEM file path')),
      certFile: v.optional(f.nonEmpty('a PEM file path')),
      keyFile: v.optional(f.nonEmpty('a PEM file path')),
      rejectUnauthorized: v.optional(f.bool, true),
    },
    ' in writer.ssl',
  )
  return f.strict(
    {
      type: v.literal('kafka'),
      brokers: v.pipe(v.array(broker, 'expected a list of "host:port" bootstrap servers'), v.minLength(1, 'expected at least one "host:port"')),
      topic: v.optional(checked(topicNameProblem, 'a Kafka topic name')),
      topicTemplate: v.optional(checked(topicTemplateProblem, 'a topic template such as "cdc.{schema}.{table}"')),
      clientId: v.optional(f.nonEmpty('a client id'), 'pg-to-brokers'),
      compression: v.optional(f.choice(['none', 'gzip', 'snappy', 'lz4', 'zstd']), 'none'),
      sasl: v.optional(f.objectOnly(sasl, 'expected an object like {"mechanism": "scram-sha-256", "username": "…", "password": "…"}')),
      ssl: v.optional(v.union([f.bool, f.objectOnly(ssl)], 'expected true, false or an object like {"caFile": "ca.pem"}')),
      deliveryTimeoutMs: v.optional(f.integer(1_000, 86_400_000), 120_000),
      connectTimeoutMs: v.optional(f.integer(100, 600_000), 10_000),
      maxRequestBytes: v.optional(f.integer(1_024, 1_073_741_824), 1_000_000),
      oversizedRecord: v.optional(f.choice(['fail', 'dead-letter']), 'fail'),
      deadLetterPath: v.optional(f.nonEmpty('a file path')),
      tombstones: v.optional(f.bool, false),
    },
    ' for writer type "kafka"',
    { brokers: 'required for writer type "kafka"; set --kafka-brokers, PG_TO_BROKERS_KAFKA_BROKERS, or writer.brokers in the config file' },
  )
}

/** Problems across fields of a validated kafka writer section, as `path: problem` lines. */
export function kafkaConfigProblems(writer: Readonly<Record<string, unknown>> & { readonly type: string }): string[] {
  if (writer.type !== 'kafka') return []
  const problems: string[] = []
  if (writer.topic !== undefined && writer.topicTemplate !== undefined) {
    problems.push('writer.topic: give either a topic (--kafka-topic) or a topic template (--kafka-topic-template), not both')
  }
  if (writer.topic === undefined && writer.topicTemplate === undefined) {
    problems.push('writer.topic: required for writer type "kafka"; set --kafka-topic (one topic) or --kafka-topic-template (one topic per table, e.g. "cdc.{schema}.{table}"), or PG_TO_BROKERS_KAFKA_TOPIC / PG_TO_BROKERS_KAFKA_TOPIC_TEMPLATE')
  }
  if (writer.oversizedRecord === 'dead-letter' && writer.deadLetterPath === undefined) {
    problems.push('writer.deadLetterPath: required with oversizedRecord "dead-letter" (records Kafka refuses as too large are appended to this file); set --kafka-dead-letter-path or PG_TO_BROKERS_KAFKA_DEAD_LETTER_PATH')
  }
  return problems
}
