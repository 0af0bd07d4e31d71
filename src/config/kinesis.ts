/**
 * @module The configuration of writer type "kinesis": its schema (built from schema.ts's field
 * helpers, handed in to avoid an import cycle), the region fallback from AWS_REGION, and the
 * cross-field checks a schema cannot word well.
 */
import * as v from 'valibot'
import type { SchemaFields } from './schema.ts'

/** What the environment or flags set of a kinesis writer section; text is checked later by the schema. */
export interface KinesisOverrides {
  streamName?: string
  streamArn?: string
  region?: string
  endpoint?: string
  aggregation?: boolean
}

const STREAM_NAME_EXPECTED = 'expected a stream name: 1 to 128 letters, digits, "_", "." or "-"'
const STREAM_ARN_EXPECTED = 'expected a stream ARN such as "arn:aws:kinesis:us-east-1:123456789012:stream/orders"'
const REGION_EXPECTED = 'expected an AWS region such as "us-east-1"'
const ENDPOINT_EXPECTED = 'expected an http:// or https:// URL, e.g. "http://127.0.0.1:4568"'
const STREAM_ARN = /^arn:aws[a-z-]*:kinesis:([a-z0-9-]+):\d{12}:stream\/[A-Za-z0-9_.-]{1,128}$/

/** The schema of `{ "type": "kinesis", … }`, with every default. */
export function kinesisWriterSchema(f: SchemaFields) {
  const text = (pattern: RegExp, expected: string) => v.pipe(v.string(expected), v.regex(pattern, expected))
  return f.strict(
    {
      type: v.literal('kinesis'),
      streamName: v.optional(text(/^[A-Za-z0-9_.-]{1,128}$/, STREAM_NAME_EXPECTED)),
      streamArn: v.optional(text(STREAM_ARN, STREAM_ARN_EXPECTED)),
      region: text(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, REGION_EXPECTED),
      endpoint: v.optional(text(/^https?:\/\/[^\s/?#]+[^\s]*$/, ENDPOINT_EXPECTED)),
      partitionKey: v.optional(f.choice(['row', 'table', 'constant']), 'row'),
      constantKey: v.optional(v.pipe(f.nonEmpty('a partition key of 1 to 256 characters'), v.maxLength(256, 'expected a partition key of 1 to 256 characters'))),
      explicitHashKey: v.optional(f.bool, false),
      aggregation: v.optional(f.bool, false),
      maxConcurrentRequests: v.optional(f.integer(1, 64), 4),
      maxAttempts: v.optional(f.integer(1, 1000), 10),
      maxRetryTimeMs: v.optional(f.integer(0, 86_400_000), 120_000),
      requestTimeoutMs: v.optional(f.integer(100, 600_000), 30_000),
      oversizedRecord: v.optional(f.choice(['fail', 'dead-letter']), 'fail'),
      deadLetterPath: v.optional(f.nonEmpty('a file path')),
    },
    ' for writer type "kinesis"',
    { region: 'required for writer type "kinesis"; set --kinesis-region, AWS_REGION (or AWS_DEFAULT_REGION), or writer.region in the config file' },
  )
}

/**
 * Fills in a kinesis writer's region when no file or flag gave one: AWS_REGION, else
 * AWS_DEFAULT_REGION, else the region inside streamArn. These are only fallbacks (not overrides,
 * unlike other variables), because AWS sets AWS_REGION in its runtimes on its own, and a region
 * written in the config file should not be silently replaced by it. Returns the merged tree.
 */
export function withKinesisRegion(merged: unknown, env: Readonly<Record<string, string | undefined>>): unknown {
  if (typeof merged !== 'object' || merged === null) return merged
  const writer = (merged as { writer?: unknown }).writer as Record<string, unknown> | undefined
  if (typeof writer !== 'object' || writer === null || writer.type !== 'kinesis' || writer.region !== undefined) return merged
  const arnRegion = typeof writer.streamArn === 'string' ? STREAM_ARN.exec(writer.streamArn)?.[1] : undefined
  const region = env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || arnRegion
  return region === undefined ? merged : { ...merged, writer: { ...writer, region } }
}

/** Problems across fields of a validated kinesis writer section, as `path: problem` lines. */
export function kinesisConfigProblems(writer: Readonly<Record<string, unknown>> & { readonly type: string }): string[] {
  if (writer.type !== 'kinesis') return []
  const problems: string[] = []
  if (writer.streamName === undefined && writer.streamArn === undefined) {
    problems.push('writer.streamName: required for writer type "kinesis"; set --kinesis-stream, PG_TO_BROKERS_KINESIS_STREAM, or writer.streamName (or writer.streamArn) in the config file')
  }
  if (writer.streamName !== undefined && writer.streamArn !== undefined) problems.push('writer.streamArn: give either streamName or streamArn, not both')
  const arnRegion = typeof writer.streamArn === 'string' ? STREAM_ARN.exec(writer.streamArn)?.[1] : undefined
  if (arnRegion !== undefined && arnRegion !== writer.region) problems.push(`writer.region: "${String(writer.region)}" differs from the region in writer.streamArn ("${arnRegion}")`)
  if (writer.oversizedRecord === 'dead-letter' && writer.deadLetterPath === undefined) {
    problems.push('writer.deadLetterPath: required with oversizedRecord "dead-letter" (records over 1 MiB are appended to this file)')
  }
  if (writer.constantKey !== undefined && writer.partitionKey !== 'constant') problems.push('writer.constantKey: applies only to partitionKey "constant"')
  return problems
}
