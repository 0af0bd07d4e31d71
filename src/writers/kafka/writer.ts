/** @module KafkaWriter: publishes batches to Kafka with an idempotent producer, resolving only on the brokers' acknowledgements. */
import { StreamWriter, type WriterRecord } from '../writer.ts'
import { DeadLetterFile } from '../dead-letter.ts'
import { createProducer, type KafkaProducer } from './client.ts'
import { isFatalKafkaError, isTooLarge, isUnknownTopicError, kafkaFailure, type FailureContext } from './errors.ts'
import { KAFKA_HEADERS, largestOf, recordBytesAtMost, splitBySize, toMessage, tombstoneFor, type KafkaMessage } from './messages.ts'
import { resolveKafkaOptions, type KafkaWriterOptions, type ResolvedKafkaOptions } from './options.ts'
import { ProduceSession } from './produce.ts'
import { PgToBrokersError } from '../../errors.ts'
import { silentLogger, type Logger } from '../../logger.ts'

const utf8 = new TextDecoder()

/**
 * Writes each record as one Kafka message: key = its partition key (so one row's changes stay on
 * one partition, in order), value = the encoded record, headers `id`, `lsn`, `transaction_id`,
 * `operation` and `table_name`.
 *
 * Contract: `publish` resolves only after the brokers acknowledged every message of the batch with
 * acks=all. The producer is idempotent (one request in flight per connection, sequence numbers per
 * partition), so a retried request is not written twice and never overtakes an earlier one.
 * Batches are sent one at a time even if `publish` is called concurrently. While the brokers are
 * unreachable the client keeps retrying; after `deliveryTimeoutMs` `publish` rejects with
 * PgToBrokersError (code `kafka_timeout`). Any failure discards the producer, and the next batch
 * starts a new one (a new producer id), so no sequence number is reused for different records.
 * Duplicates after a crash are re-sends with the same `id` header.
 *
 * A request the brokers refuse as too large is sent again one message at a time (records of other
 * partitions in it may then arrive twice); a message refused alone can never be delivered: publish
 * rejects naming it (id, size, topic), or with oversizedRecord "dead-letter" it is appended to the
 * dead-letter file (fsynced) and the batch goes on. With `tombstones`, each DELETE's message is
 * followed by a null-value message with its key.
 */
export class KafkaWriter extends StreamWriter {
  readonly #options: ResolvedKafkaOptions
  #producer: KafkaProducer | undefined
  /** Sequence numbers of the current producer: discarded with it. */
  #session: ProduceSession | undefined
  /** The previous publish: each waits for it, so batches never overlap (the client must not send concurrently). */
  #queue: Promise<unknown> = Promise.resolve()
  /** Rejects the call in progress when the client retries an error that retrying cannot cure. */
  #fatal: ((error: Error) => void) | undefined
  /** Errors, besides isFatalKafkaError's, that end the call in progress at once. */
  #alsoFatal: (error: Error) => boolean = () => false
  /** Topics the brokers confirmed to exist (a produce request to a missing one would be retried until the deadline). */
  readonly #knownTopics = new Set<string>()
  readonly #logger: Logger
  #deadLetters: DeadLetterFile | undefined

  /** @throws PgToBrokersError (code kafka_config) for unusable options. */
  constructor(options: KafkaWriterOptions) {
    super()
    this.#options = resolveKafkaOptions(options)
    this.#logger = options.logger ?? silentLogger
  }

  /**
   * Connects, and checks that the brokers answer, the credentials work and the fixed topic exists
   * (a template's topics are checked as tables appear). @throws PgToBrokersError within connectTimeoutMs.
   */
  override async init(): Promise<void> {
    const topics = this.#options.fixedTopic === undefined ? [] : [this.#options.fixedTopic]
    const context = this.#context('connecting', topics)
    const producer = await this.#ensureProducer()
    await this.#withDeadline(this.#options.connectTimeoutMs, context, async () => {
      this.#alsoFatal = isUnknownTopicError
      await producer.metadata({ topics, autocreateTopics: false })
      for (const topic of topics) this.#knownTopics.add(topic)
      // Gets the producer id now, so bad credentials or ACLs fail here rather than at the first batch.
      await producer.initIdempotentProducer({})
    })
    const deadLetterPath = this.#options.oversizedRecord === 'dead-letter' ? this.#options.deadLetterPath : undefined
    if (deadLetterPath !== undefined) this.#deadLetters = await DeadLetterFile.open(deadLetterPath, 'kafka_dead_letter')
  }

  override publish(records: readonly WriterRecord[]): Promise<void> {
    const turn = this.#queue.then(() => this.#publishNow(records))
    this.#queue = turn.catch(() => {})
    return turn
  }

  override async close(): Promise<void> {
    await this.#queue
    await this.#discardProducer()
    await this.#deadLetters?.close()
    this.#deadLetters = undefined
  }

  async #publishNow(records: readonly WriterRecord[]): Promise<void> {
    if (records.length === 0) return
    const router = this.#options.router
    const messages: KafkaMessage[] = []
    let bound = 0
    for (const record of records) {
      const message = toMessage(record, router.topicFor(record.change))
      messages.push(message)
      bound += recordBytesAtMost(record)
      if (this.#options.tombstones && record.change.operation === 'DELETE') messages.push(tombstoneFor(message))
    }
    await this.#checkTopics(messages)
    const maxBytes = this.#options.maxRequestBytes
    for (const run of bound <= maxBytes ? [messages] : splitBySize(messages, maxBytes)) await this.#sendRun(run)
  }

  /** Sends a run; when the brokers refuse it as too large, sends its messages one at a time. */
  async #sendRun(run: KafkaMessage[]): Promise<void> {
    try {
      await this.#send(run)
    } catch (error) {
      if (!isTooLarge(error)) throw error
      if (run.length > 1) {
        for (const message of run) await this.#sendRun([message])
        return
      }
      await this.#setAside(run[0]!, error as PgToBrokersError)
    }
  }

  /** A message the brokers refused alone: rejects (policy "fail"), or appends it to the dead-letter file. */
  async #setAside(message: KafkaMessage, refusal: PgToBrokersError): Promise<void> {
    const file = this.#deadLetters
    if (file === undefined) throw refusal
    const id = message.headers.get(KAFKA_HEADERS.id) ?? '?'
    const table = message.headers.get(KAFKA_HEADERS.table) ?? null
    const bytes = largestOf([message])?.bytes ?? 0
    const reason = `refused by Kafka as too large even when sent alone (over the max.message.bytes of topic "${message.topic}")`
    const operation = message.headers.get(KAFKA_HEADERS.operation) ?? 'TOMBSTONE'
    const data = message.value === null ? '' : utf8.decode(message.value)
    await file.write([{ id, table, operation, partition_key: message.key, topic: message.topic, bytes, reason, data }])
    this.#logger.warn('kafka: record refused as too large written to the dead-letter file', {
      id,
      table: table ?? undefined,
      topic: message.topic,
      bytes,
      path: file.path,
    })
  }

  /** Asks the brokers about topics not seen before, so a missing one fails at once with its name. */
  async #checkTopics(messages: readonly KafkaMessage[]): Promise<void> {
    const fresh = [...new Set(messages.map((m) => m.topic))].filter((topic) => !this.#knownTopics.has(topic))
    if (fresh.length === 0) return
    const producer = await this.#ensureProducer()
    const context = this.#context('looking up topics', fresh)
    await this.#withDeadline(this.#options.connectTimeoutMs, context, () => {
      this.#alsoFatal = isUnknownTopicError
      return producer.metadata({ topics: fresh, autocreateTopics: false })
    })
    for (const topic of fresh) this.#knownTopics.add(topic)
  }

  /** Sends one produce request's worth of messages and waits for every acknowledgement. */
  async #send(run: KafkaMessage[]): Promise<void> {
    const producer = await this.#ensureProducer()
    this.#session ??= new ProduceSession(producer, this.#options.compression)
    const session = this.#session
    // Only a failure needs it: made then, not for every request.
    const context = (): FailureContext => {
      const topics = [...new Set(run.map((m) => m.topic))]
      return { ...this.#context(`sending ${run.length} records`, topics), largest: largestOf(run), records: run.length }
    }
    await this.#withDeadline(this.#options.deliveryTimeoutMs, context, () => session.send(run))
  }

  /**
   * Runs `work` on the current producer; on failure, or when it takes longer than `ms`, closes the
   * producer (which ends the client's retries) and rejects with a PgToBrokersError.
   */
  async #withDeadline<T>(ms: number, failureContext: FailureContext | (() => FailureContext), work: () => Promise<T>): Promise<T> {
    const context = () => (typeof failureContext === 'function' ? failureContext() : failureContext)
    let timer: ReturnType<typeof setTimeout> | undefined
    const running = work()
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)))
    const fatal = new Promise<never>((_, reject) => (this.#fatal = reject))
    try {
      const result = await Promise.race([running, timeout, fatal])
      if (result !== 'timeout') return result
    } catch (error) {
      await this.#discardProducer()
      throw kafkaFailure(error, context())
    } finally {
      clearTimeout(timer)
      this.#fatal = undefined
      this.#alsoFatal = () => false
      running.catch(() => {})
    }
    // Timed out: closing the producer makes the pending call fail with the errors it retried on.
    await this.#discardProducer()
    const failure = await running.then(
      () => undefined,
      (error: unknown) => kafkaFailure(error, context()),
    )
    const reason = failure?.message ?? 'the acknowledgement came as the writer gave up'
    const code = failure?.code === 'kafka_unreachable' ? failure.code : 'kafka_timeout'
    throw new PgToBrokersError(code, `gave up after ${ms} ms: ${reason}`, { cause: failure })
  }

  async #ensureProducer(): Promise<KafkaProducer> {
    this.#producer ??= await createProducer(this.#options, (error) => {
      if (isFatalKafkaError(error) || this.#alsoFatal(error)) this.#fatal?.(error)
    })
    return this.#producer
  }

  async #discardProducer(): Promise<void> {
    const producer = this.#producer
    this.#producer = undefined
    this.#session = undefined
    // Forced: pending calls fail at once instead of retrying on; errors on the way out change nothing.
    if (producer) await new Promise<void>((resolve) => producer.close(true, () => resolve()))
  }

  #context(action: string, topics: readonly string[]): FailureContext {
    const user = this.#options.sasl?.username
    return { action, brokers: this.#options.brokers, topics, ...(user === undefined ? {} : { saslUser: user }) }
  }
}
