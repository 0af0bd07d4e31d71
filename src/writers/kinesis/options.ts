/** @module The KinesisWriter's options, their defaults, and the checks that make a bad option fail at construction. */
import type { Change } from '../../change/change.ts'
import { PgToBrokersError } from '../../errors.ts'
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

const STREAM_ARN = /^arn:aws[a-z-]*:kinesis:([a-z0-9-]+):\d{12}:stream\/([A-Za-z0-9_.-]{1,128})$/

/** @throws PgToBrokersError (code kinesis_options) naming the bad option. */
export function resolveOptions(options: KinesisWriterOptions): ResolvedOptions {
  const problem = (message: string): never => {
    throw new PgToBrokersError('kinesis_options', `Kinesis writer: ${message}`)
  }
  if ((options.streamName === undefined) === (options.streamArn === undefined)) problem('give exactly one of streamName and streamArn')
  const arn = options.streamArn === undefined ? undefined : STREAM_ARN.exec(options.streamArn)
  if (options.streamArn !== undefined && !arn) problem(`streamArn ${JSON.stringify(options.streamArn)} is not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)`)
  const region = options.region ?? arn?.[1] ?? problem('region is required (e.g. "us-east-1")')
  if (arn && arn[1] !== region) problem(`region "${region}" differs from the region of streamArn ("${arn[1]}")`)
  if (options.streamName !== undefined && !/^[A-Za-z0-9_.-]{1,128}$/.test(options.streamName)) {
    problem(`streamName ${JSON.stringify(options.streamName)} is not a stream name (1-128 letters, digits, _ . -)`)
  }
  if (options.endpoint !== undefined && !/^https?:\/\/[^\s]+$/.test(options.endpoint)) problem('endpoint must be an http:// or https:// URL')
  const oversizedRecord = options.oversizedRecord ?? KINESIS_DEFAULTS.oversizedRecord
  if (oversizedRecord === 'dead-letter' && !options.deadLetterPath) problem('oversizedRecord "dead-letter" needs deadLetterPath (the file dead letters are appended to)')
  const number = (name: keyof typeof KINESIS_DEFAULTS & keyof KinesisWriterOptions, min: number): number => {
    const value = (options[name] as number | undefined) ?? (KINESIS_DEFAULTS[name] as number)
    if (!Number.isInteger(value) || value < min) problem(`${name} must be an integer of at least ${min}, got ${String(value)}`)
    return value
  }
  const target: StreamTarget = options.streamArn !== undefined ? { StreamARN: options.streamArn } : { StreamName: options.streamName! }
  return {
    region,
    target,
    shownStream: JSON.stringify(options.streamName ?? options.streamArn),
    endpoint: options.endpoint,
    partitionKey: options.partitionKey ?? KINESIS_DEFAULTS.partitionKey,
    constantKey: options.constantKey ?? KINESIS_DEFAULTS.constantKey,
    explicitHashKey: options.explicitHashKey ?? false,
    aggregation: options.aggregation ?? false,
    maxConcurrentRequests: number('maxConcurrentRequests', 1),
    maxAttempts: number('maxAttempts', 1),
    maxRetryTimeMs: number('maxRetryTimeMs', 0),
    requestTimeoutMs: number('requestTimeoutMs', 1),
    retryBaseDelayMs: number('retryBaseDelayMs', 0),
    retryMaxDelayMs: number('retryMaxDelayMs', 0),
    oversizedRecord,
    deadLetterPath: options.deadLetterPath,
  }
}
