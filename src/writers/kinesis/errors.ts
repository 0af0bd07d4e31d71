/** @module Which Kinesis failures are worth retrying, and how the others read: what went wrong and what to do. */
import { PgToBrokersError } from '../../errors.ts'
import type { Change } from '../../change/change.ts'
import { tableNameOf } from '../../change/change.ts'
import { KinesisApiError, KinesisNetworkError } from './client.ts'

/** Error types (whole request, or a record's ErrorCode) that a later attempt can cure. */
const RETRYABLE_TYPES = new Set([
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'ThrottlingException',
  'Throttling',
  'RequestLimitExceeded',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
  'InternalFailureException',
  'InternalServerError',
  'KMSThrottlingException',
  'RequestTimeout',
  'RequestTimeoutException',
  'ExpiredTokenException',
  'ExpiredToken',
])

/** Context for messages: names only, never secrets. */
export interface FailureContext {
  readonly operation: string
  readonly stream: string
  readonly region: string
  readonly endpoint: string
  readonly credentialSource: string
}

/** True for network failures, 5xx answers and throttling or transient error types. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof KinesisNetworkError) return true
  if (error instanceof KinesisApiError) return error.status >= 500 || error.status === 429 || RETRYABLE_TYPES.has(error.type)
  return false
}

/** True when a per-record ErrorCode is worth another attempt. */
export function isRetryableCode(code: string): boolean {
  return RETRYABLE_TYPES.has(code)
}

export function isExpiredToken(error: unknown): boolean {
  return error instanceof KinesisApiError && (error.type === 'ExpiredTokenException' || error.type === 'ExpiredToken')
}

/** A failed call as a PgToBrokersError whose message says what to check. PgToBrokersErrors pass through. */
export function explainFailure(error: unknown, context: FailureContext): PgToBrokersError {
  if (error instanceof PgToBrokersError) return error
  const where = `${context.region} at ${context.endpoint}`
  const source = context.credentialSource || 'the credential chain'
  if (error instanceof KinesisNetworkError) {
    return new PgToBrokersError(
      'kinesis_unreachable',
      `cannot reach the Kinesis endpoint ${context.endpoint} (region ${context.region}): ${error.message}; check the endpoint, the region and the network`,
      { cause: error },
    )
  }
  if (!(error instanceof KinesisApiError)) {
    return new PgToBrokersError('kinesis_request_failed', `Kinesis ${context.operation} failed: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    })
  }
  switch (error.type) {
    case 'ResourceNotFoundException':
      return new PgToBrokersError(
        'kinesis_stream_not_found',
        `Kinesis stream ${context.stream} does not exist in ${where}: create it (aws kinesis create-stream) or check the stream name, region and endpoint`,
        { cause: error },
      )
    case 'UnrecognizedClientException':
      return new PgToBrokersError(
        'kinesis_credentials_invalid',
        `Kinesis in ${where} does not recognise the AWS access key id from ${source} (UnrecognizedClientException): ` +
          `check the credentials and that they belong to this region's partition`,
        { cause: error },
      )
    case 'InvalidSignatureException':
    case 'SignatureDoesNotMatch':
      return new PgToBrokersError(
        'kinesis_credentials_invalid',
        `Kinesis in ${where} rejected the request signature (${error.type}): the secret access key from ${source} does not match its access key ` +
          `id, or the system clock is off`,
        { cause: error },
      )
    case 'ExpiredTokenException':
    case 'ExpiredToken':
      return new PgToBrokersError('kinesis_credentials_expired', `the AWS session token from ${source} has expired (${error.type}): renew the credentials`, {
        cause: error,
      })
    case 'AccessDeniedException':
      return new PgToBrokersError(
        'kinesis_access_denied',
        `Kinesis in ${where} denied ${context.operation} (AccessDeniedException: ${error.message}): ` +
          `the credentials from ${source} need kinesis:DescribeStreamSummary, kinesis:ListShards and kinesis:PutRecords on stream ${context.stream}`,
        { cause: error },
      )
    default:
      return new PgToBrokersError(
        'kinesis_request_failed',
        `Kinesis ${context.operation} on stream ${context.stream} in ${where} failed (${error.type}, HTTP ${error.status}): ${error.message}`,
        { cause: error },
      )
  }
}

/** Where a record comes from, for messages: `table public.orders` or `logical message "prefix"`. */
export function describeRecord(change: Change): string {
  const table = tableNameOf(change)
  return table === null ? `logical message "${change.message?.prefix ?? ''}"` : `table ${table}`
}
