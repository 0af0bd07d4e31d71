/**
 * @module Encodes the messages of one partition as one Kafka RecordBatch (magic 2) in a single
 * buffer: sizes first, then one allocation and one pass, instead of a small buffer per field.
 */
import { compressionsAlgorithms, crc32c, Writer } from '@platformatic/kafka'
import { bufferView } from '../../runtime/io.ts'
import type { KafkaCompression } from './options.ts'
import type { KafkaMessage } from './messages.ts'
import { utf8Length } from '../utf8.ts'

/** Who writes the batch: the idempotent producer's id and epoch, and the batch's first sequence number. */
export interface BatchProducer {
  readonly producerId: bigint
  readonly producerEpoch: number
  readonly baseSequence: number
}

/** Bytes of a RecordBatch before its records (baseOffset … recordCount). */
export const BATCH_HEADER_BYTES = 61
/** Where the CRC-32C starts (attributes) and where the CRC itself sits, in the batch header. */
const CRC_START = 21
const CRC_AT = 17
const MAGIC = 2
/** The Java producer's "no partition leader epoch": the broker sets it. */
const NO_PARTITION_LEADER_EPOCH = -1
/** Sequence numbers wrap to 0 after Integer.MAX_VALUE (DefaultRecordBatch.incrementSequence). */
const MAX_SEQUENCE = 0x7fffffff

const encoder = new TextEncoder()

/** The sequence number `delta` records after `sequence`, wrapping as the broker expects. */
export function nextSequence(sequence: number, delta: number): number {
  return sequence > MAX_SEQUENCE - delta ? delta - (MAX_SEQUENCE - sequence) - 1 : sequence + delta
}

/** Gives the bytes a batch is written into (zeroed or not: every byte is written). */
export type Allocate = (bytes: number) => Uint8Array

const fresh: Allocate = (bytes) => new Uint8Array(bytes)

/**
 * One RecordBatch holding `messages` in order (offset deltas 0…n-1), all stamped `timestamp`
 * (ms since the epoch), records compressed as a whole unless `compression` is "none", written
 * into memory from `allocate`.
 * @throws the client's UnsupportedCompressionError when the runtime lacks the codec (zstd on Node 20).
 */
export function encodeRecordBatch(
  messages: readonly KafkaMessage[],
  producer: BatchProducer,
  timestamp: number,
  compression: KafkaCompression,
  allocate: Allocate = fresh,
): Uint8Array {
  const sizes = new Int32Array(messages.length)
  let recordsBytes = 0
  for (let i = 0; i < messages.length; i++) {
    const body = recordBodyBytes(messages[i]!, i)
    sizes[i] = body
    recordsBytes += varintBytes(body) + body
  }
  let batch: Uint8Array
  let attributes = 0
  if (compression === 'none') {
    batch = allocate(BATCH_HEADER_BYTES + recordsBytes)
    writeRecords(batch, BATCH_HEADER_BYTES, messages, sizes)
  } else {
    const records = new Uint8Array(recordsBytes)
    writeRecords(records, 0, messages, sizes)
    const algorithm = compressionsAlgorithms[compression]
    const compressed: Uint8Array = algorithm.compressSync(bufferView(records))
    attributes = algorithm.bitmask
    batch = allocate(BATCH_HEADER_BYTES + compressed.length)
    batch.set(compressed, BATCH_HEADER_BYTES)
  }
  writeHeader(batch, messages.length, producer, timestamp, attributes)
  return batch
}

/** The CRC is taken through a one-buffer DynamicBuffer: given a plain Uint8Array, the client's native CRC-32C copies it first. */
function writeHeader(batch: Uint8Array, count: number, producer: BatchProducer, timestamp: number, attributes: number): void {
  const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength)
  view.setBigInt64(0, 0n) // baseOffset: the broker assigns offsets
  view.setInt32(8, batch.length - 12) // batchLength: the bytes after this field
  view.setInt32(12, NO_PARTITION_LEADER_EPOCH)
  view.setInt8(16, MAGIC)
  view.setInt16(21, attributes)
  view.setInt32(23, count - 1) // lastOffsetDelta
  view.setBigInt64(27, BigInt(timestamp)) // baseTimestamp
  view.setBigInt64(35, BigInt(timestamp)) // maxTimestamp
  view.setBigInt64(43, producer.producerId)
  view.setInt16(51, producer.producerEpoch)
  view.setInt32(53, producer.baseSequence)
  view.setInt32(57, count)
  view.setUint32(CRC_AT, crc32c(Writer.create().append(bufferView(batch.subarray(CRC_START))).dynamicBuffer))
}

/** Bytes of a record after its length varint: attributes, timestamp and offset deltas, key, value, headers. */
function recordBodyBytes(message: KafkaMessage, offsetDelta: number): number {
  const key = utf8Length(message.key)
  const value = message.value?.length ?? -1
  let bytes = 1 + 1 + varintBytes(offsetDelta) + varintBytes(key) + key + varintBytes(value) + Math.max(value, 0)
  return bytes + varintBytes(message.headers.size) + headersBytes(message.headers)
}

/** Header names and values with their length varints. forEach: iterating entries would allocate a pair per header. */
function headersBytes(headers: ReadonlyMap<string, string>): number {
  let bytes = 0
  headers.forEach((text, name) => {
    const nameBytes = utf8Length(name)
    const textBytes = utf8Length(text)
    bytes += varintBytes(nameBytes) + nameBytes + varintBytes(textBytes) + textBytes
  })
  return bytes
}

/** @throws Error if the records did not fill exactly the bytes measured for them (memory from `allocate` is not zeroed). */
function writeRecords(target: Uint8Array, start: number, messages: readonly KafkaMessage[], sizes: Int32Array): void {
  let at = start
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!
    at = writeVarint(target, at, sizes[i]!)
    target[at++] = 0 // attributes
    target[at++] = 0 // timestampDelta: every record has the batch's timestamp
    at = writeVarint(target, at, i)
    at = writeText(target, at, message.key)
    const value = message.value
    if (value === null) {
      at = writeVarint(target, at, -1)
    } else {
      at = writeVarint(target, at, value.length)
      target.set(value, at)
      at += value.length
    }
    at = writeVarint(target, at, message.headers.size)
    message.headers.forEach((text, name) => {
      at = writeText(target, writeText(target, at, name), text)
    })
  }
  if (at !== target.length) throw new Error(`Kafka record batch: wrote ${at - start} record bytes where ${target.length - start} were measured`)
}

/**
 * Writes a varint length and the UTF-8 text, in one pass for ASCII (short strings: faster than
 * encodeInto). At the first other character it starts over with the exact length: the field is
 * then at least as long as what the ASCII attempt wrote, so every byte of that is overwritten.
 */
function writeText(target: Uint8Array, at: number, text: string): number {
  const length = text.length
  const start = writeVarint(target, at, length)
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i)
    if (code > 0x7f) return writeUtf8(target, at, text)
    target[start + i] = code
  }
  return start + length
}

function writeUtf8(target: Uint8Array, at: number, text: string): number {
  const bytes = utf8Length(text)
  at = writeVarint(target, at, bytes)
  encoder.encodeInto(text, target.subarray(at, at + bytes))
  return at + bytes
}

/** Bytes of a zigzag varint (Kafka's signed varint) for a 32-bit integer. */
function varintBytes(value: number): number {
  let v = ((value << 1) ^ (value >> 31)) >>> 0
  let bytes = 1
  while (v >= 0x80) {
    v >>>= 7
    bytes++
  }
  return bytes
}

function writeVarint(target: Uint8Array, at: number, value: number): number {
  let v = ((value << 1) ^ (value >> 31)) >>> 0
  while (v >= 0x80) {
    target[at++] = (v & 0x7f) | 0x80
    v >>>= 7
  }
  target[at++] = v
  return at
}
