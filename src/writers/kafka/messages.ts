/**
 * @module Writer records as Kafka messages: key = partition key, value = the encoded record,
 * headers = where the change came from; and the split of a batch into produce requests that the
 * broker accepts.
 */
import { utf8Length } from '../utf8.ts'
import type { WriterRecord } from '../writer.ts'

/** One message as the client takes it (key and headers as strings, UTF-8 on the wire). */
export interface KafkaMessage {
  readonly topic: string
  readonly key: string
  /** The encoded record; null for a tombstone. */
  readonly value: Uint8Array | null
  readonly headers: Map<string, string>
}

/**
 * Header names, the same as the record fields they copy: a consumer can deduplicate on `id` and
 * order or filter by `lsn`, `transaction_id`, `operation` and `table_name` without parsing values.
 */
export const KAFKA_HEADERS = {
  id: 'id',
  lsn: 'lsn',
  transactionId: 'transaction_id',
  operation: 'operation',
  table: 'table_name',
} as const

/** Bytes a record adds to a record batch besides its key, value and header bytes (varints, attributes, header names), rounded up. */
const RECORD_OVERHEAD_BYTES = 96

/** The message for a record. `table_name` is absent for logical messages, which belong to no table. */
export function toMessage(record: WriterRecord, topic: string): KafkaMessage {
  const change = record.change
  // The id is "<commit LSN>:<ordinal>"; its LSN part is exactly how records show `lsn`.
  const headers = new Map<string, string>()
  headers.set(KAFKA_HEADERS.id, change.id)
  headers.set(KAFKA_HEADERS.lsn, change.id.slice(0, change.id.lastIndexOf(':')))
  headers.set(KAFKA_HEADERS.transactionId, String(change.transactionId))
  headers.set(KAFKA_HEADERS.operation, change.operation)
  if (change.relation) headers.set(KAFKA_HEADERS.table, change.relation.qualifiedName)
  return { topic, key: record.partitionKey, value: record.data, headers }
}

/**
 * The tombstone that follows a DELETE's message: same topic and key (so the same partition, right
 * after it), a null value, and the headers saying where it came from, but no `id` (it is no record,
 * and a consumer deduplicating on `id` must not drop it as a copy of the DELETE) and no `operation`.
 */
export function tombstoneFor(message: KafkaMessage): KafkaMessage {
  const headers = new Map(message.headers)
  headers.delete(KAFKA_HEADERS.id)
  headers.delete(KAFKA_HEADERS.operation)
  return { topic: message.topic, key: message.key, value: null, headers }
}

/**
 * At least as many bytes as messageBytes counts for the message of `record` (and its tombstone),
 * without scanning text: a UTF-16 code unit is at most 3 bytes of UTF-8. When a batch's bound
 * fits one request, the batch need not be measured record by record.
 */
export function recordBytesAtMost(record: WriterRecord): number {
  const change = record.change
  const text = record.partitionKey.length + 2 * change.id.length + 16 + change.operation.length + (change.relation?.qualifiedName.length ?? 0)
  return 2 * RECORD_OVERHEAD_BYTES + record.data.length + 2 * 3 * text
}

/** About how many bytes the message takes in a record batch, before compression. */
export function messageBytes(message: KafkaMessage): number {
  let bytes = RECORD_OVERHEAD_BYTES + utf8Length(message.key) + (message.value?.length ?? 0)
  message.headers.forEach((value) => (bytes += utf8Length(value)))
  return bytes
}

/**
 * Splits messages, in order, into runs of at most `maxBytes` (a larger message goes alone, and the
 * broker decides). Runs are sent one after another, so order per key holds across them.
 */
export function splitBySize(messages: readonly KafkaMessage[], maxBytes: number): KafkaMessage[][] {
  const runs: KafkaMessage[][] = []
  let run: KafkaMessage[] = []
  let bytes = 0
  for (const message of messages) {
    const size = messageBytes(message)
    if (run.length > 0 && bytes + size > maxBytes) {
      runs.push(run)
      run = []
      bytes = 0
    }
    run.push(message)
    bytes += size
  }
  if (run.length > 0) runs.push(run)
  return runs
}

/** The largest message of a run, for error messages. */
export function largestOf(messages: readonly KafkaMessage[]): { id: string; bytes: number; topic: string } | undefined {
  let best: { id: string; bytes: number; topic: string } | undefined
  for (const message of messages) {
    const bytes = (message.value?.length ?? 0) + utf8Length(message.key)
    if (best === undefined || bytes > best.bytes) best = { id: message.headers.get(KAFKA_HEADERS.id) ?? '?', bytes, topic: message.topic }
  }
  return best
}
