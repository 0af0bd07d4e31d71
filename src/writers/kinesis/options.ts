/**
 * @module The KinesisWriter's options: their schema and defaults, which the config section (writer
 * type "kinesis") and the constructor both check against, and the checks across options.
 */
import * as v from 'valibot'
import type { Change } from '../../change/change.ts'
import { PgToBrokersError } from '../../errors.ts'
import { bool, choice, integer, matching, nonEmpty } from '../../fields.ts'
import { checkedOptions, type OptionProblem } from '../checked-options.ts'
import type { Logger } from '../../logger.ts'
import type { StreamTarget } from './client.ts'
import type { AwsCredentials, CredentialProvider } from './credentials.ts'

/**
 * How records get their PartitionKey: 'row' (table plus primary-key values: one row's history in
 * order), 'table' (one table's changes in order), 'constant' (everything in one total order, on one
 * shard), or a function of the change. A subclass may override assignChangeToPartitionKey instead.
 */
export type PartitionKeyStrategy = 'row' | 'table' | 'constant' | ((change: Change) => string)

export interface KinesisWriterOptions {
  /** AWS region, e.g. "us-east-1"; taken from streamArn when left out. */
  readonly region?: string | undefined
  /** The stream, by name (or give streamArn). */
  readonly streamName?: string | undefined
  readonly streamArn?: string | undefined
  /** Endpoint URL override: a VPC endpoint, or a local server such as kinesis-local. */
  readonly endpoint?: string | undefined
  /** Fixed credentials, or a provider; default: the AWS credential chain (see credentials.ts). */
  readonly credentials?: AwsCredentials | CredentialProvider | undefined
  readonly partitionKey?: PartitionKeyStrategy | undefined
  /** The key for partitionKey 'constant' (default "pg_to_brokers"). */
  readonly constantKey?: string | undefined
  /** Spread keys evenly by count over the open shards with an ExplicitHashKey (see keys.ts). */
  readonly explicitHashKey?: boolean | undefined
  /** Pack records into KPL aggregated records (one per shard per request). */
  readonly aggregation?: boolean | undefined
  /** PutRecords requests in flight at once (default 4). */
  readonly maxConcurrentRequests?: number | undefined
  /** Attempts per record before publish rejects (default 10). */
  readonly maxAttempts?: number | undefined
  /** Longest a record may keep failing, from its first attempt, before publish rejects (default 120000). */
  readonly maxRetryTimeMs?: number | undefined
  /** One request's timeout; its records are then retried (default 30000). */
  readonly requestTimeoutMs?: number | undefined
  readonly retryBaseDelayMs?: number | undefined
  readonly retryMaxDelayMs?: number | undefined
  /** A record over 1 MiB: 'fail' (default: publish rejects) or 'dead-letter' (append it to deadLetterPath). */
  readonly oversizedRecord?: 'fail' | 'dead-letter' | undefined
  readonly deadLetterPath?: string | undefined
  readonly logger?: Logger | undefined
}

/** Options with every default applied and checked. */
export interface ResolvedOptions {
  readonly region: string
  readonly target: StreamTarget
  /** The stream as messages show it: "name" or the ARN, quoted. */
  readonly shownStream: string
  readonly endpoint: string | undefined
  readonly partitionKey: PartitionKeyStrategy
  readonly constantKey: string
  readonly explicitHashKey: boolean
  readonly aggregation: boolean
  readonly maxConcurrentRequests: number
  readonly maxAttempts: number
  readonly maxRetryTimeMs: number
  readonly requestTimeoutMs: number
  readonly retryBaseDelayMs: number
  readonly retryMaxDelayMs: number
  readonly oversizedRecord: 'fail' | 'dead-letter'
  readonly deadLetterPath: string | undefined
}

export const KINESIS_DEFAULTS = {
  partitionKey: 'row',
  constantKey: 'pg_to_brokers',
  maxConcurrentRequests: 4,
  maxAttempts: 10,
  maxRetryTimeMs: 120_000,
  requestTimeoutMs: 30_000,
  retryBaseDelayMs: 100,
  retryMaxDelayMs: 5_000,
  oversizedRecord: 'fail',
} as const

const STREAM_ARN = /^arn:aws[a-z-]*:kinesis:([a-z0-9-]+):\d{12}:stream\/[A-Za-z0-9_.-]{1,128}$/
const STREAM_NAME_EXPECTED = 'expected a stream name: 1 to 128 letters, digits, "_", "." or "-"'
const STREAM_ARN_EXPECTED = 'expected a stream ARN such as "arn:aws:kinesis:us-east-1:123456789012:stream/orders"'
const REGION_EXPECTED = 'expected an AWS region such as "us-east-1"'
const ENDPOINT_EXPECTED = 'expected an http:// or https:// URL, e.g. "http://127.0.0.1:4568"'
const PARTITION_KEY_EXPECTED = 'expected a partition key of 1 to 256 characters'

/** The schema of every option that has a text form (not credentials, logger, a partitionKey function or the retry delays), with its default. */
export const KINESIS_OPTION_ENTRIES = {
  streamName: v.optional(matching(/^[A-Za-z0-9_.-]{1,128}$/, STREAM_NAME_EXPECTED)),
  streamArn: v.optional(matching(STREAM_ARN, STREAM_ARN_EXPECTED)),
  region: matching(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, REGION_EXPECTED),
  endpoint: v.optional(matching(/^https?:\/\/[^\s/?#]+[^\s]*$/, ENDPOINT_EXPECTED)),
  partitionKey: v.optional(choice(['row', 'table', 'constant']), KINESIS_DEFAULTS.partitionKey),
  constantKey: v.optional(v.pipe(nonEmpty('a partition key of 1 to 256 characters'), v.maxLength(256, PARTITION_KEY_EXPECTED))),
  explicitHashKey: v.optional(bool, false),
  aggregation: v.optional(bool, false),
  maxConcurrentRequests: v.optional(integer(1, 64), KINESIS_DEFAULTS.maxConcurrentRequests),
  maxAttempts: v.optional(integer(1, 1000), KINESIS_DEFAULTS.maxAttempts),
  maxRetryTimeMs: v.optional(integer(0, 86_400_000), KINESIS_DEFAULTS.maxRetryTimeMs),
  requestTimeoutMs: v.optional(integer(100, 600_000), KINESIS_DEFAULTS.requestTimeoutMs),
  oversizedRecord: v.optional(choice(['fail', 'dead-letter']), KINESIS_DEFAULTS.oversizedRecord),
  deadLetterPath: v.optional(nonEmpty('a file path')),
}

/** Options as the schema leaves them: checked, with every default. */
export type KinesisSettings = v.InferOutput<v.ObjectSchema<typeof KINESIS_OPTION_ENTRIES, undefined>>

/** The region inside a stream ARN, if it is one. */
export function regionOfArn(streamArn: unknown): string | undefined {
  return typeof streamArn === 'string' ? STREAM_ARN.exec(streamArn)?.[1] : undefined
}

/**
 * What no single option's schema can see: one stream (by name or ARN) in the region of its ARN,
 * a dead-letter policy with its file, a constant key only for partitionKey "constant".
 * `path` names another option inside a message (the config says "writer.streamArn").
 */
export function kinesisProblems(
  options: Partial<Omit<KinesisSettings, 'partitionKey'>> & { readonly partitionKey?: unknown },
  path: (key: string) => string = (key) => key,
): OptionProblem[] {
  const problems: OptionProblem[] = []
  if (options.streamName === undefined && options.streamArn === undefined)
    problems.push({ key: 'streamName', problem: 'required: give streamName or streamArn', missing: true })
  if (options.streamName !== undefined && options.streamArn !== undefined)
    problems.push({ key: 'streamArn', problem: 'give either streamName or streamArn, not both' })
  const arnRegion = regionOfArn(options.streamArn)
  if (arnRegion !== undefined && arnRegion !== options.region) {
    problems.push({ key: 'region', problem: `"${String(options.region)}" differs from the region in ${path('streamArn')} ("${arnRegion}")` })
  }
  if (options.oversizedRecord === 'dead-letter' && options.deadLetterPath === undefined) {
    problems.push({
      key: 'deadLetterPath',
      problem: 'required with oversizedRecord "dead-letter" (records over 1 MiB are appended to this file)',
      missing: true,
    })
  }
  if (options.constantKey !== undefined && options.partitionKey !== 'constant')
    problems.push({ key: 'constantKey', problem: 'applies only to partitionKey "constant"' })
  return problems
}

/** @throws PgToBrokersError (code kinesis_options) naming the bad option. */
export function resolveOptions(options: KinesisWriterOptions): ResolvedOptions {
  const strategy = options.partitionKey
  const given = { ...options, region: options.region ?? regionOfArn(options.streamArn), partitionKey: typeof strategy === 'function' ? undefined : strategy }
  const settings = checkedOptions(v.object(KINESIS_OPTION_ENTRIES), given, 'Kinesis writer', 'kinesis_options')
  const partitionKey = typeof strategy === 'function' ? strategy : settings.partitionKey
  const problem = kinesisProblems({ ...settings, partitionKey })[0]
  if (problem !== undefined) throw new PgToBrokersError('kinesis_options', `Kinesis writer: ${problem.key}: ${problem.problem}`)
  const delay = (name: 'retryBaseDelayMs' | 'retryMaxDelayMs'): number => {
    const value = options[name] ?? KINESIS_DEFAULTS[name]
    if (!Number.isInteger(value) || value < 0)
      throw new PgToBrokersError('kinesis_options', `Kinesis writer: ${name}: expected an integer of at least 0, got ${String(value)}`)
    return value
  }
  const target: StreamTarget = settings.streamArn !== undefined ? { StreamARN: settings.streamArn } : { StreamName: settings.streamName! }
  return {
    ...settings,
    target,
    shownStream: JSON.stringify(settings.streamName ?? settings.streamArn),
    endpoint: settings.endpoint,
    partitionKey,
    constantKey: settings.constantKey ?? KINESIS_DEFAULTS.constantKey,
    retryBaseDelayMs: delay('retryBaseDelayMs'),
    retryMaxDelayMs: delay('retryMaxDelayMs'),
    deadLetterPath: settings.deadLetterPath,
  }
}
