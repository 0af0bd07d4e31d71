/**
 * @module A minimal Kinesis JSON API client: one signed POST per call (aws4fetch, SigV4, service
 * "kinesis"), with `Content-Type: application/x-amz-json-1.1` and `X-Amz-Target: Kinesis_20131202.<Op>`.
 * It never retries: the writer decides what to retry, because a retry can break ordering.
 */
import { AwsClient } from 'aws4fetch'
import type { CredentialProvider } from './credentials.ts'
import type { Shard } from './keys.ts'
import { KINESIS_LIST_SHARDS_PAGE } from './limits.ts'

/** The stream a call addresses: by name or by ARN. */
export type StreamTarget = { readonly StreamName: string } | { readonly StreamARN: string }

/** The service answered with an error (`type` is the `__type` without its namespace). */
export class KinesisApiError extends Error {
  override name = 'KinesisApiError'
  constructor(
    readonly type: string,
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

/** No answer: connection refused or reset, DNS failure, or the request timed out. */
export class KinesisNetworkError extends Error {
  override name = 'KinesisNetworkError'
}

export interface PutRecordsRequestEntry {
  readonly Data: string
  readonly PartitionKey: string
  readonly ExplicitHashKey?: string
}

export interface PutRecordsResultEntry {
  readonly SequenceNumber?: string
  readonly ShardId?: string
  readonly ErrorCode?: string
  readonly ErrorMessage?: string
}

export interface StreamDescriptionSummary {
  readonly StreamName: string
  readonly StreamARN: string
  readonly StreamStatus: string
  readonly OpenShardCount?: number
}

export interface KinesisClientOptions {
  readonly region: string
  /** Defaults to https://kinesis.<region>.amazonaws.com (amazonaws.com.cn in China regions). */
  readonly endpoint?: string | undefined
  readonly credentials: CredentialProvider
  readonly requestTimeoutMs: number
}

/** The regional endpoint for a region. */
export function defaultEndpoint(region: string): string {
  return `https://kinesis.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`
}

export class KinesisClient {
  readonly endpoint: string
  readonly region: string
  readonly #credentials: CredentialProvider
  readonly #timeoutMs: number
  #signer: { client: AwsClient; secret: string; token: string | undefined } | undefined

  constructor(options: KinesisClientOptions) {
    this.region = options.region
    this.endpoint = (options.endpoint ?? defaultEndpoint(options.region)).replace(/\/+$/, '')
    this.#credentials = options.credentials
    this.#timeoutMs = options.requestTimeoutMs
  }

  /** The endpoint as messages show it: no user info, query or fragment. */
  get shownEndpoint(): string {
    const url = new URL(this.endpoint)
    return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`
  }

  /**
   * Calls one API operation and returns its parsed JSON answer.
   * @throws KinesisApiError for an error answer, KinesisNetworkError when there is no answer,
   * PgToBrokersError when no credentials can be found. Messages never hold secrets.
   */
  async call<T>(operation: string, body: unknown): Promise<T> {
    const signer = await this.#signerFor()
    const request = await signer.sign(this.endpoint + '/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': `Kinesis_20131202.${operation}` },
      body: JSON.stringify(body),
    })
    let response: Response
    let text: string
    try {
      response = await fetch(request, { signal: AbortSignal.timeout(this.#timeoutMs) })
      text = await response.text()
    } catch (error) {
      throw new KinesisNetworkError(this.#credentials.redact(networkReason(error, this.#timeoutMs)), { cause: error })
    }
    if (response.ok) return (text === '' ? {} : JSON.parse(text)) as T
    throw this.#apiError(response, text)
  }

  describeStreamSummary(target: StreamTarget): Promise<StreamDescriptionSummary> {
    return this.call<{ StreamDescriptionSummary: StreamDescriptionSummary }>('DescribeStreamSummary', target).then((r) => r.StreamDescriptionSummary)
  }

  /** Every open shard (ListShards, following NextToken). Closed shards (after a reshard) are left out. */
  async listOpenShards(target: StreamTarget, pageSize = KINESIS_LIST_SHARDS_PAGE): Promise<Shard[]> {
    const shards: Shard[] = []
    let nextToken: string | undefined
    do {
      // With NextToken the stream must not be named again (ListShards API reference).
      const body = nextToken === undefined ? { ...target, MaxResults: pageSize } : { NextToken: nextToken, MaxResults: pageSize }
      const page = await this.call<ListShardsOutput>('ListShards', body)
      for (const shard of page.Shards ?? []) {
        if (shard.SequenceNumberRange?.EndingSequenceNumber != null) continue // null on open shards from kinesis-local
        shards.push({
          shardId: shard.ShardId,
          startingHashKey: BigInt(shard.HashKeyRange.StartingHashKey),
          endingHashKey: BigInt(shard.HashKeyRange.EndingHashKey),
        })
      }
      nextToken = page.NextToken ?? undefined // kinesis-local answers null on the last page
    } while (nextToken !== undefined)
    return shards
  }

  putRecords(target: StreamTarget, records: readonly PutRecordsRequestEntry[]): Promise<{ FailedRecordCount?: number; Records: PutRecordsResultEntry[] }> {
    return this.call('PutRecords', { ...target, Records: records })
  }

  /** Forgets the cached credentials so the next call fetches new ones (after ExpiredTokenException). */
  refreshCredentials(): void {
    this.#credentials.invalidate()
  }

  /** Where the credentials came from (no secret). */
  get credentialSource(): string {
    return this.#credentials.source
  }

  async #signerFor(): Promise<AwsClient> {
    const credentials = await this.#credentials.get()
    const current = this.#signer
    if (
      current &&
      current.client.accessKeyId === credentials.accessKeyId &&
      current.secret === credentials.secretAccessKey &&
      current.token === credentials.sessionToken
    ) {
      return current.client
    }
    // retries: 0 — aws4fetch would otherwise retry 5xx on its own, blind to ordering.
    const client = new AwsClient({ ...credentials, service: 'kinesis', region: this.region, retries: 0 })
    this.#signer = { client, secret: credentials.secretAccessKey, token: credentials.sessionToken }
    return client
  }

  #apiError(response: Response, text: string): KinesisApiError {
    let type = response.headers.get('x-amzn-ErrorType')?.split(':')[0] ?? ''
    let message = ''
    try {
      const body = JSON.parse(text) as { __type?: string; message?: string; Message?: string }
      type = body.__type ?? type
      message = body.message ?? body.Message ?? ''
    } catch {
      // Not JSON (e.g. a load balancer's page): the status has to do.
    }
    type = type.slice(type.lastIndexOf('#') + 1) || `HTTP ${response.status}`
    return new KinesisApiError(type, response.status, this.#credentials.redact(message || `HTTP ${response.status}`))
  }
}

interface ListShardsOutput {
  Shards?: {
    ShardId: string
    HashKeyRange: { StartingHashKey: string; EndingHashKey: string }
    SequenceNumberRange?: { EndingSequenceNumber?: string | null }
  }[]
  NextToken?: string | null
}

/** A short reason for a failed fetch: the runtimes word these differently; the cause's code is the most useful part. */
function networkReason(error: unknown, timeoutMs: number): string {
  const failure = error as Error & { cause?: { code?: string; message?: string } }
  if (failure.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`
  const code = failure.cause?.code ?? (failure as { code?: string }).code
  const detail = failure.cause?.message ?? failure.message
  return code && !detail.includes(code) ? `${code}: ${detail}` : detail
}
