/**
 * @module KinesisWriter: streams records to an Amazon Kinesis data stream with PutRecords.
 *
 * Guarantee: `publish` resolves only when every record of the batch is stored; per PartitionKey,
 * no record is stored for the first time after a later record of that key. A request never holds
 * two records (or aggregated records) of one key, no two requests in flight share a key, and a
 * key's next record is sent only after its previous one succeeded; only failed records are
 * retried, with exponential backoff and jitter (see plan.ts and delivery.ts). Duplicates are
 * possible (a request whose answer was lost is sent again); each carries the change's stable `id`.
 */
import type { Change } from '../../change/change.ts'
import { tableNameOf } from '../../change/change.ts'
import { PgToBrokersError } from '../../errors.ts'
import { silentLogger, type Logger } from '../../logger.ts'
import { StreamWriter, type WriterRecord } from '../writer.ts'
import { encodeBase64 } from './base64.ts'
import { KinesisClient } from './client.ts'
import { CredentialProvider } from './credentials.ts'
import { DeadLetterFile } from './dead-letter.ts'
import { deliver, type DeliveryOptions, type DeliveryTransport, type UnitOutcome } from './delivery.ts'
import { describeRecord, explainFailure, isExpiredToken, isRetryable, type FailureContext } from './errors.ts'
import { hashKeyOf, kinesisPartitionKey, ShardMap } from './keys.ts'
import { KINESIS_MAX_RECORD_BYTES } from './limits.ts'
import { utf8Length } from '../utf8.ts'
import { resolveOptions, type KinesisWriterOptions, type ResolvedOptions } from './options.ts'
import { planAggregated, planPlain, type Entry, type Unit } from './plan.ts'

export type { KinesisWriterOptions } from './options.ts'

/** Stream states in which PutRecords is accepted. */
const WRITABLE_STATUSES = new Set(['ACTIVE', 'UPDATING'])

const encoder = new TextEncoder()

export class KinesisWriter extends StreamWriter {
  readonly #options: ResolvedOptions
  readonly #client: KinesisClient
  readonly #credentials: CredentialProvider
  readonly #logger: Logger
  #shards: ShardMap | undefined
  #shardRefresh: Promise<ShardMap> | undefined
  #deadLetters: DeadLetterFile | undefined

  /** @throws PgToBrokersError (code kinesis_options) for invalid options. */
  constructor(options: KinesisWriterOptions) {
    super()
    this.#options = resolveOptions(options)
    const given = options.credentials
    this.#credentials = given instanceof CredentialProvider ? given : given ? CredentialProvider.fromStatic(given) : CredentialProvider.fromChain()
    this.#client = new KinesisClient({
      region: this.#options.region,
      endpoint: this.#options.endpoint,
      credentials: this.#credentials,
      requestTimeoutMs: this.#options.requestTimeoutMs,
    })
    this.#logger = options.logger ?? silentLogger
  }

  /**
   * Checks the stream is there and writable (DescribeStreamSummary) and reads its shards (ListShards).
   * @throws PgToBrokersError: no credentials, endpoint unreachable, credentials rejected, stream
   * missing or not ACTIVE/UPDATING, dead-letter file not writable.
   */
  override async init(): Promise<void> {
    const summary = await this.#call('DescribeStreamSummary', () => this.#client.describeStreamSummary(this.#options.target))
    if (!WRITABLE_STATUSES.has(summary.StreamStatus)) {
      const advice = summary.StreamStatus === 'DELETING' ? 'it is being deleted: create it again' : 'wait until it is ACTIVE and start again'
      throw new PgToBrokersError(
        'kinesis_stream_inactive',
        `Kinesis stream ${this.#options.shownStream} in ${this.#where()} is ${summary.StreamStatus}, not ACTIVE or UPDATING: ${advice}`,
      )
    }
    this.#shards = new ShardMap(await this.#call('ListShards', () => this.#client.listOpenShards(this.#options.target)))
    if (this.#options.deadLetterPath !== undefined) this.#deadLetters = await DeadLetterFile.open(this.#options.deadLetterPath)
    this.#logger.info('kinesis stream ready', {
      stream: summary.StreamName,
      region: this.#options.region,
      endpoint: this.#client.shownEndpoint,
      shards: this.#shards.shards.length,
      credentials: this.#credentials.source,
      aggregation: this.#options.aggregation,
    })
  }

  /**
   * Stores every record (see the module guarantee). Records over 1 MiB are handled by the
   * oversizedRecord policy before anything is sent.
   * @throws PgToBrokersError when a record is too large (policy 'fail'), rejected, or out of retries.
   */
  override async publish(records: readonly WriterRecord[]): Promise<void> {
    const shards = this.#shards
    if (!shards) throw new PgToBrokersError('writer_not_ready', 'KinesisWriter.publish called before init')
    const entries: Entry[] = []
    const oversized: Entry[] = []
    for (const record of records) {
      const entry = this.#entryFor(record, shards)
      ;(entry.size > KINESIS_MAX_RECORD_BYTES ? oversized : entries).push(entry)
    }
    if (oversized.length > 0) await this.#setAside(oversized)
    await deliver(entries, this.#transport(), this.#deliveryOptions())
  }

  override assignChangeToPartitionKey(change: Change): string {
    const strategy = this.#options.partitionKey
    if (typeof strategy === 'function') return strategy(change)
    if (strategy === 'constant') return this.#options.constantKey
    if (strategy === 'table' && change.relation) return change.relation.qualifiedName
    return super.assignChangeToPartitionKey(change)
  }

  override async close(): Promise<void> {
    await this.#deadLetters?.close()
    this.#deadLetters = undefined
  }

  #entryFor(record: WriterRecord, shards: ShardMap): Entry {
    const partitionKey = kinesisPartitionKey(record.partitionKey)
    if (partitionKey === '') {
      throw new PgToBrokersError(
        'kinesis_partition_key',
        `record ${record.change.id} (${describeRecord(record.change)}) has an empty partition key: Kinesis needs 1 to 256 characters (check ` +
          `assignChangeToPartitionKey)`,
      )
    }
    const data = record.data
    const explicit = this.#options.explicitHashKey ? shards.evenHashKey(partitionKey) : undefined
    const hashKey = this.#options.aggregation ? (explicit ?? hashKeyOf(partitionKey)) : undefined
    const size = data.length + utf8Length(partitionKey)
    return { record, partitionKey, explicitHashKey: explicit?.toString(), hashKey, data, size, attempts: 0, notBefore: 0, firstAttemptAt: undefined }
  }

  /** Applies the oversized-record policy: reject the batch, or write the records to the dead-letter file. */
  async #setAside(oversized: readonly Entry[]): Promise<void> {
    const first = oversized[0]!
    if (this.#options.oversizedRecord === 'fail' || !this.#deadLetters) {
      throw new PgToBrokersError(
        'kinesis_record_too_large',
        `record ${first.record.change.id} (${describeRecord(first.record.change)}) is ${first.size} bytes with its partition key, over the Kinesis limit of ` +
          `${KINESIS_MAX_RECORD_BYTES} bytes (1 MiB) per record; nothing of this batch was sent or acknowledged. ` +
          'Set oversizedRecord to "dead-letter" with a deadLetterPath to set such records aside in a file, or leave the column or table out of the publication',
      )
    }
    await this.#deadLetters.write(oversized)
    for (const entry of oversized) {
      this.#logger.warn('kinesis: record over 1 MiB written to the dead-letter file', {
        id: entry.record.change.id,
        table: tableNameOf(entry.record.change) ?? undefined,
        bytes: entry.size,
        path: this.#deadLetters.path,
      })
    }
  }

  #transport(): DeliveryTransport {
    const options = this.#options
    const shards = () => this.#shards!
    return {
      plan: options.aggregation ? (queues, inFlight, now) => planAggregated(queues, inFlight, now, shards()) : planPlain,
      send: (units) => this.#send(units),
      classify: (error) => this.#classify(error),
      // With an ExplicitHashKey every user record carries its aggregate's hash key: it never falls outside the shard.
      ...(options.aggregation && !options.explicitHashKey ? { misrouted: (unit: Unit, shardId: string) => this.#misrouted(unit, shardId) } : {}),
    }
  }

  async #send(units: readonly Unit[]): Promise<UnitOutcome[]> {
    const request = units.map((unit) => ({
      Data: encodeBase64(unit.data),
      PartitionKey: unit.partitionKey,
      ...(unit.explicitHashKey === undefined ? {} : { ExplicitHashKey: unit.explicitHashKey }),
    }))
    const response = await this.#client.putRecords(this.#options.target, request)
    if (!Array.isArray(response.Records) || response.Records.length !== units.length) {
      throw new PgToBrokersError(
        'kinesis_bad_response',
        `PutRecords answered ${Array.isArray(response.Records) ? response.Records.length : 'no'} results for ${units.length} records`,
      )
    }
    return response.Records.map((result) =>
      result.ErrorCode
        ? { ok: false, code: result.ErrorCode, message: this.#credentials.redact(result.ErrorMessage ?? '') }
        : { ok: true, shardId: result.ShardId ?? '' },
    )
  }

  #classify(error: unknown): { retry: string } | { fatal: Error } {
    if (isExpiredToken(error) && this.#credentials.temporary) {
      this.#client.refreshCredentials()
      return { retry: 'ExpiredTokenException: fetching fresh credentials' }
    }
    if (!isExpiredToken(error) && isRetryable(error))
      return { retry: `${(error as Error).name === 'KinesisApiError' ? (error as { type: string }).type + ': ' : ''}${(error as Error).message}` }
    return { fatal: explainFailure(error, this.#context('PutRecords')) }
  }

  /**
   * An aggregated record landed outside the shard it was built for: the stream was resharded. Reads
   * the shards again; the user records whose hash key lies outside the shard that stored them would
   * be dropped by the KCL de-aggregator, so they are sent again (the copies stored are duplicates).
   */
  async #misrouted(unit: Unit, shardId: string): Promise<ReadonlySet<Entry>> {
    this.#shardRefresh ??= this.#call('ListShards', () => this.#client.listOpenShards(this.#options.target))
      .then((list) => new ShardMap(list))
      .finally(() => (this.#shardRefresh = undefined))
    const shards = await this.#shardRefresh
    this.#shards = shards
    const stored = shards.get(shardId)
    const again = new Set(unit.entries.filter((entry) => !stored || entry.hashKey! < stored.startingHashKey || entry.hashKey! > stored.endingHashKey))
    this.#logger.warn('kinesis: the stream was resharded; read its shards again', { shards: shards.shards.length, resent: again.size })
    return again
  }

  #deliveryOptions(): DeliveryOptions {
    const { maxConcurrentRequests, maxAttempts, maxRetryTimeMs, retryBaseDelayMs, retryMaxDelayMs } = this.#options
    return { maxConcurrentRequests, maxAttempts, maxRetryTimeMs, retryBaseDelayMs, retryMaxDelayMs, logger: this.#logger }
  }

  async #call<T>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call()
    } catch (error) {
      throw explainFailure(error, this.#context(operation))
    }
  }

  #context(operation: string): FailureContext {
    return {
      operation,
      stream: this.#options.shownStream,
      region: this.#options.region,
      endpoint: this.#client.shownEndpoint,
      credentialSource: this.#credentials.source,
    }
  }

  #where(): string {
    return `${this.#options.region} at ${this.#client.shownEndpoint}`
  }
}
