/**
 * @module Builds the @platformatic/kafka producer from the writer's options: the one file that
 * knows the client library's option names.
 */
import { Producer, type ProducerOptions } from '@platformatic/kafka'
import type { ConnectionOptions as TlsOptions } from '../../runtime/tls.ts'
import { backoff } from '../../backoff.ts'
import { PgToBrokersError } from '../../errors.ts'
import { readTextFile } from '../../runtime/io.ts'
import { parseBroker, type KafkaSaslMechanism, type KafkaSslOptions, type ResolvedKafkaOptions } from './options.ts'

/**
 * The client's producer, used for its connections, metadata, producer id and retry policy: the
 * records themselves go out as record batches encoded by produce.ts, never through its `send`.
 */
export type KafkaProducer = Producer<string, Uint8Array | null, string, string>

/** The longest pause between two attempts while the brokers are unreachable. */
const FIRST_RETRY_DELAY_MS = 50
const MAX_RETRY_DELAY_MS = 1_000
/** Produce timeout: how long the leader waits for the in-sync replicas. */
const BROKER_TIMEOUT_MS = 60_000
const SASL_MECHANISMS: Record<KafkaSaslMechanism, 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'> = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
}

/**
 * An idempotent producer (acks=all, one request in flight per connection, retried until the
 * writer's own deadline), topics never auto-created. `onRetry` sees each error the client is
 * about to retry.
 * @throws PgToBrokersError when a TLS file cannot be read.
 */
export async function createProducer(options: ResolvedKafkaOptions, onRetry: (error: Error) => void): Promise<KafkaProducer> {
  const producerOptions: ProducerOptions<string, Uint8Array | null, string, string> = {
    clientId: options.clientId,
    bootstrapBrokers: options.brokers.map(parseBroker),
    idempotent: true,
    acks: -1,
    // The client retries retriable errors (broker down, leader moved) this often; the writer's deadline ends it sooner.
    retries: Number.MAX_SAFE_INTEGER,
    retryDelay: (_client, _operation, attempt, _retries, error) => {
      onRetry(error)
      return backoff(attempt + 1, FIRST_RETRY_DELAY_MS, MAX_RETRY_DELAY_MS)
    },
    timeout: BROKER_TIMEOUT_MS,
    connectTimeout: Math.min(options.connectTimeoutMs, 5_000),
    autocreateTopics: false,
    metadataMaxAge: 30_000,
  }
  if (options.sasl) {
    const { mechanism, username, password } = options.sasl
    producerOptions.sasl = { mechanism: SASL_MECHANISMS[mechanism], username, password }
  }
  if (options.ssl) producerOptions.tls = await tlsOptions(options.ssl)
  return new Producer(producerOptions)
}

async function tlsOptions(ssl: KafkaSslOptions): Promise<TlsOptions> {
  const tls: TlsOptions = { rejectUnauthorized: ssl.rejectUnauthorized ?? true }
  if (ssl.caFile !== undefined) tls.ca = await readPem(ssl.caFile, 'ssl.caFile')
  if (ssl.certFile !== undefined) tls.cert = await readPem(ssl.certFile, 'ssl.certFile')
  if (ssl.keyFile !== undefined) tls.key = await readPem(ssl.keyFile, 'ssl.keyFile')
  return tls
}

async function readPem(path: string, what: string): Promise<string> {
  try {
    return await readTextFile(path)
  } catch (error) {
    throw new PgToBrokersError('kafka_config', `Kafka writer: cannot read ${what} "${path}": ${(error as Error).message}`, { cause: error })
  }
}
