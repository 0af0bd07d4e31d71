/**
 * @module Turns the Kafka client's nested errors into one PgToBrokersError that says what went
 * wrong and what to do. Messages name brokers, topics, users and record ids, never passwords.
 */
import { PgToBrokersError } from '../../errors.ts'

/** What the writer was doing when the error came, for the message. */
export interface FailureContext {
  /** e.g. "connecting", "sending 1000 records" */
  readonly action: string
  readonly brokers: readonly string[]
  /** The topics of the records being sent. */
  readonly topics?: readonly string[]
  /** The largest record being sent, for MESSAGE_TOO_LARGE. */
  readonly largest?: { readonly id: string; readonly bytes: number; readonly topic: string } | undefined
  /** How many records the request held (1: the refusal is about that record alone). */
  readonly records?: number

  readonly saslUser?: string
}

/** One error of the client's error tree: its code, the broker's error name (apiId) if any, and its message. */
interface Leaf {
  readonly code: string | undefined
  readonly apiId: string | undefined
  readonly message: string
}

const NOTHING_CONFIRMED = 'nothing of this batch was confirmed to PostgreSQL; it is sent again after a restart'

/** Maps any error thrown by the client (or by the writer's deadline) to a PgToBrokersError. */
export function kafkaFailure(error: unknown, context: FailureContext): PgToBrokersError {
  if (error instanceof PgToBrokersError) return error
  // "Client closed while retrying" is the writer giving up, not a reason.
  const leaves = leavesOf(error).filter((leaf) => !leaf.message.startsWith('Client closed while retrying'))
  const has = (test: (leaf: Leaf) => boolean) => leaves.find(test)
  const brokers = context.brokers.join(', ')
  const options = { cause: error }
  const tooLarge = has((l) => l.apiId === 'MESSAGE_TOO_LARGE' || l.apiId === 'RECORD_LIST_TOO_LARGE')
  if (tooLarge) {
    const largest = context.largest
    const named = largest && `record ${largest.id} (${largest.bytes} bytes, topic "${largest.topic}")`
    const which = named === undefined ? 'a record is too large' : context.records === 1 ? `${named}, sent alone` : `${named} is the largest of the request`
    const advice =
      "raise the topic's max.message.bytes (and the broker's message.max.bytes), or set the writer's oversizedRecord to \"dead-letter\" with a " +
      'deadLetterPath to set such records aside in a file'
    return new PgToBrokersError(
      'kafka_message_too_large',
      `Kafka refused the records as too large (${tooLarge.apiId}): ${which}; ${advice}; ${NOTHING_CONFIRMED}`,
      options,
    )
  }
  const unknownTopic = has((l) => l.apiId === 'UNKNOWN_TOPIC_OR_PARTITION' || /^Unknown topic /.test(l.message))
  if (unknownTopic) {
    const named = /^Unknown topic (.+?)\.?$/.exec(unknownTopic.message)?.[1]
    const topic = named ?? context.topics?.join('", "') ?? '?'
    const create = 'create it first (e.g. kafka-topics.sh --create --topic NAME --partitions N): the writer never creates topics'
    return new PgToBrokersError('kafka_unknown_topic', `Kafka topic "${topic}" does not exist on ${brokers}; ${create}; ${NOTHING_CONFIRMED}`, options)
  }
  if (has((l) => l.apiId === 'SASL_AUTHENTICATION_FAILED' || l.code === 'PLT_KFK_AUTHENTICATION')) {
    const user = context.saslUser === undefined ? '' : ` for user "${context.saslUser}"`
    return new PgToBrokersError(
      'kafka_auth',
      `Kafka brokers ${brokers} refused the SASL credentials${user}: check the mechanism, username and password`,
      options,
    )
  }
  const denied = has((l) => l.apiId?.endsWith('_AUTHORIZATION_FAILED') === true)
  if (denied) {
    return new PgToBrokersError(
      'kafka_not_authorized',
      `Kafka denied ${context.action} (${denied.apiId}): grant the client's principal the needed ACLs (Describe and Write on the topics, ` +
        `IdempotentWrite on the cluster)`,
      options,
    )
  }
  const compression = has((l) => l.code === 'PLT_KFK_UNSUPPORTED_COMPRESSION')
  if (compression)
    return new PgToBrokersError('kafka_config', `Kafka writer: ${compression.message}; choose another compression (gzip, snappy or lz4)`, options)
  if (leaves.length > 0 && leaves.every(isNetworkLeaf)) {
    const reason = distinct(leaves.map((l) => l.message))
      .slice(0, 3)
      .join('; ')
    return new PgToBrokersError(
      'kafka_unreachable',
      `cannot reach the Kafka brokers ${brokers} while ${context.action}: ${reason}; check the broker addresses and that the brokers run`,
      options,
    )
  }
  const summary = distinct(leaves.map((l) => (l.apiId ? `${l.apiId}: ${l.message}` : l.message)))
    .slice(0, 3)
    .join('; ')
  return new PgToBrokersError('kafka_publish', `Kafka failed while ${context.action} (brokers ${brokers}): ${summary || String(error)}`, options)
}

/** True when the brokers refused a produce request as too large: sent alone, its record can never be delivered. */
export function isTooLarge(error: unknown): boolean {
  return error instanceof PgToBrokersError && error.code === 'kafka_message_too_large'
}

/**
 * True for errors that retrying cannot cure although the client retries them (it retries a
 * connection that failed SASL authentication, for one): the writer stops at once on these.
 */
export function isFatalKafkaError(error: unknown): boolean {
  return leavesOf(error).some(
    (l) => l.code === 'PLT_KFK_AUTHENTICATION' || l.apiId === 'SASL_AUTHENTICATION_FAILED' || l.apiId?.endsWith('_AUTHORIZATION_FAILED') === true,
  )
}

/**
 * True when the brokers say a topic does not exist. Fatal when looking topics up (the writer never
 * creates topics), though the client retries it as it may be a topic still being created.
 */
export function isUnknownTopicError(error: unknown): boolean {
  return leavesOf(error).some((l) => l.apiId === 'UNKNOWN_TOPIC_OR_PARTITION' || /^Unknown topic /.test(l.message))
}

/** The innermost errors of the tree (AggregateError `errors`, then `cause`), in order. */
function leavesOf(error: unknown, depth = 0): Leaf[] {
  if (!(error instanceof Error) || depth > 8) return error === undefined ? [] : [{ code: undefined, apiId: undefined, message: String(error) }]
  const nested = error as Error & { errors?: unknown[]; code?: unknown; apiId?: unknown }
  const children = [...(Array.isArray(nested.errors) ? nested.errors : []), ...(nested.cause !== undefined ? [nested.cause] : [])]
  const inner = children.flatMap((child) => leavesOf(child, depth + 1))
  const self: Leaf = {
    code: typeof nested.code === 'string' ? nested.code : undefined,
    apiId: typeof nested.apiId === 'string' ? nested.apiId : undefined,
    message: error.message,
  }
  // Keep a protocol error's own name even when it wraps something (its apiId is what says what went wrong).
  if (inner.length === 0 || self.apiId !== undefined) return [self, ...inner]
  return inner
}

function isNetworkLeaf(leaf: Leaf): boolean {
  if (leaf.apiId !== undefined) return false
  return (
    leaf.code === 'PLT_KFK_NETWORK' ||
    /^E[A-Z]+$/.test(leaf.code ?? '') ||
    leaf.code === 'PLT_KFK_TIMEOUT' ||
    /Connection closed|Cannot connect/.test(leaf.message)
  )
}

function distinct(items: readonly string[]): string[] {
  return [...new Set(items)]
}
