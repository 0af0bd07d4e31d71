/**
 * @module The KPL aggregated-record format (amazon-kinesis-producer, aggregation-format.md): many
 * user records in one Kinesis record, readable by the KCL de-aggregator.
 *
 * Layout: magic 0xF3 0x89 0x9A 0xC2, then a protobuf AggregatedRecord
 * { repeated string partition_key_table = 1; repeated string explicit_hash_key_table = 2;
 *   repeated Record records = 3 } with Record { uint64 partition_key_index = 1;
 * uint64 explicit_hash_key_index = 2; bytes data = 3 }, then the MD5 of the protobuf bytes.
 */
import { md5 } from '../../runtime/digest.ts'
import { utf8Length } from '../utf8.ts'
import { bytesFieldSize, ProtoWriter, readFields, varintSize, WIRE_BYTES, WIRE_VARINT } from './protobuf.ts'

export const KPL_MAGIC: Uint8Array = new Uint8Array([0xf3, 0x89, 0x9a, 0xc2])
const MD5_LENGTH = 16
/** Magic before and checksum after the protobuf message. */
const FRAMING_BYTES = KPL_MAGIC.length + MD5_LENGTH

/** One user record inside (or outside) an aggregated record. */
export interface UserRecord {
  readonly partitionKey: string
  readonly explicitHashKey?: string | undefined
  readonly data: Uint8Array
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** Collects user records into one aggregated record, knowing its encoded size at every step. */
export class AggregateBuilder {
  readonly #partitionKeys = new Map<string, number>()
  readonly #hashKeys = new Map<string, number>()
  readonly #records: { partitionKeyIndex: number; hashKeyIndex: number | undefined; data: Uint8Array }[] = []
  #protobufSize = 0

  /** Records added so far. */
  get count(): number {
    return this.#records.length
  }

  /** Encoded size in bytes (magic, protobuf and checksum) of what was added. */
  get size(): number {
    return FRAMING_BYTES + this.#protobufSize
  }

  /** The encoded size the aggregate would have with `record` added. */
  sizeWith(record: UserRecord): number {
    return this.size + this.#growth(record)
  }

  add(record: UserRecord): void {
    this.#protobufSize += this.#growth(record)
    const partitionKeyIndex = indexOf(this.#partitionKeys, record.partitionKey)
    const hashKeyIndex = record.explicitHashKey === undefined ? undefined : indexOf(this.#hashKeys, record.explicitHashKey)
    this.#records.push({ partitionKeyIndex, hashKeyIndex, data: record.data })
  }

  /** The aggregated record's bytes. */
  encode(): Uint8Array {
    const message = new ProtoWriter(this.#protobufSize + 16)
    for (const key of this.#partitionKeys.keys()) message.bytesField(1, encoder.encode(key))
    for (const key of this.#hashKeys.keys()) message.bytesField(2, encoder.encode(key))
    for (const record of this.#records) {
      const inner = new ProtoWriter(record.data.length + 16).varintField(1, record.partitionKeyIndex)
      if (record.hashKeyIndex !== undefined) inner.varintField(2, record.hashKeyIndex)
      message.bytesField(3, inner.bytesField(3, record.data).finish())
    }
    const protobuf = message.finish()
    const out = new Uint8Array(FRAMING_BYTES + protobuf.length)
    out.set(KPL_MAGIC, 0)
    out.set(protobuf, KPL_MAGIC.length)
    out.set(md5(protobuf), KPL_MAGIC.length + protobuf.length)
    return out
  }

  /** Protobuf bytes that adding `record` costs: new table entries plus the Record message. */
  #growth(record: UserRecord): number {
    let growth = 0
    let partitionKeyIndex = this.#partitionKeys.get(record.partitionKey)
    if (partitionKeyIndex === undefined) {
      partitionKeyIndex = this.#partitionKeys.size
      growth += bytesFieldSize(utf8Length(record.partitionKey))
    }
    let inner = 1 + varintSize(partitionKeyIndex) + bytesFieldSize(record.data.length)
    if (record.explicitHashKey !== undefined) {
      const hashKeyIndex = this.#hashKeys.get(record.explicitHashKey) ?? this.#hashKeys.size
      if (!this.#hashKeys.has(record.explicitHashKey)) growth += bytesFieldSize(record.explicitHashKey.length)
      inner += 1 + varintSize(hashKeyIndex)
    }
    return growth + bytesFieldSize(inner)
  }
}

/** Encodes user records as one aggregated record. */
export function aggregate(records: readonly UserRecord[]): Uint8Array {
  const builder = new AggregateBuilder()
  for (const record of records) builder.add(record)
  return builder.encode()
}

/** True when `data` starts with the KPL magic and ends with the MD5 of what lies between. */
export function isAggregated(data: Uint8Array): boolean {
  if (data.length < FRAMING_BYTES || KPL_MAGIC.some((byte, i) => data[i] !== byte)) return false
  const checksum = md5(data.subarray(KPL_MAGIC.length, data.length - MD5_LENGTH))
  return checksum.every((byte, i) => data[data.length - MD5_LENGTH + i] === byte)
}

/**
 * The user records a Kinesis record holds: those inside it when it is an aggregated record, else
 * the record itself (as the KCL de-aggregator does: a record without the magic, or whose checksum
 * does not match, is a plain record).
 * @throws Error when an aggregated record (valid checksum) has a malformed protobuf message.
 */
export function deaggregate(record: UserRecord): UserRecord[] {
  if (!isAggregated(record.data)) return [record]
  const protobuf = record.data.subarray(KPL_MAGIC.length, record.data.length - MD5_LENGTH)
  const partitionKeys: string[] = []
  const hashKeys: string[] = []
  const raw: Uint8Array[] = []
  for (const field of readFields(protobuf)) {
    if (field.wireType !== WIRE_BYTES) continue
    if (field.field === 1) partitionKeys.push(decoder.decode(field.value))
    else if (field.field === 2) hashKeys.push(decoder.decode(field.value))
    else if (field.field === 3) raw.push(field.value)
  }
  return raw.map((bytes) => decodeRecord(bytes, partitionKeys, hashKeys))
}

function decodeRecord(bytes: Uint8Array, partitionKeys: readonly string[], hashKeys: readonly string[]): UserRecord {
  let partitionKeyIndex: number | undefined
  let hashKeyIndex: number | undefined
  let data: Uint8Array = new Uint8Array(0)
  for (const field of readFields(bytes)) {
    if (field.field === 1 && field.wireType === WIRE_VARINT) partitionKeyIndex = field.value
    else if (field.field === 2 && field.wireType === WIRE_VARINT) hashKeyIndex = field.value
    else if (field.field === 3 && field.wireType === WIRE_BYTES) data = field.value
  }
  const partitionKey = partitionKeyIndex === undefined ? undefined : partitionKeys[partitionKeyIndex]
  if (partitionKey === undefined) throw new Error(`aggregated record: partition_key_index ${partitionKeyIndex} is not in the table`)
  const explicitHashKey = hashKeyIndex === undefined ? undefined : hashKeys[hashKeyIndex]
  if (hashKeyIndex !== undefined && explicitHashKey === undefined)
    throw new Error(`aggregated record: explicit_hash_key_index ${hashKeyIndex} is not in the table`)
  return { partitionKey, explicitHashKey, data }
}

function indexOf(table: Map<string, number>, key: string): number {
  let index = table.get(key)
  if (index === undefined) table.set(key, (index = table.size))
  return index
}
