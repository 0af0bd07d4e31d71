/** @module The few protocol-buffers wire-format pieces the KPL aggregated-record format needs (varints, length-delimited fields). */

/** Wire type 0: varint. */
export const WIRE_VARINT = 0
/** Wire type 2: length-delimited (strings, bytes, embedded messages). */
export const WIRE_BYTES = 2

/** Bytes a varint takes for a non-negative safe integer. */
export function varintSize(value: number): number {
  let size = 1
  while (value >= 0x80) {
    value = Math.floor(value / 0x80)
    size++
  }
  return size
}

/** Bytes a length-delimited field takes: its tag, its length varint and its payload. */
export function bytesFieldSize(length: number): number {
  return 1 + varintSize(length) + length
}

/** Appends protobuf fields to a growing buffer. */
export class ProtoWriter {
  #bytes: Uint8Array
  #length = 0

  constructor(capacity = 256) {
    this.#bytes = new Uint8Array(capacity)
  }

  varint(value: number): this {
    this.#reserve(10)
    while (value >= 0x80) {
      this.#bytes[this.#length++] = (value % 0x80) | 0x80
      value = Math.floor(value / 0x80)
    }
    this.#bytes[this.#length++] = value
    return this
  }

  tag(field: number, wireType: number): this {
    return this.varint(field * 8 + wireType)
  }

  /** A length-delimited field. */
  bytesField(field: number, payload: Uint8Array): this {
    this.tag(field, WIRE_BYTES).varint(payload.length)
    this.#reserve(payload.length)
    this.#bytes.set(payload, this.#length)
    this.#length += payload.length
    return this
  }

  varintField(field: number, value: number): this {
    return this.tag(field, WIRE_VARINT).varint(value)
  }

  finish(): Uint8Array {
    return this.#bytes.subarray(0, this.#length)
  }

  #reserve(extra: number): void {
    if (this.#length + extra <= this.#bytes.length) return
    const grown = new Uint8Array(Math.max(this.#bytes.length * 2, this.#length + extra))
    grown.set(this.#bytes.subarray(0, this.#length))
    this.#bytes = grown
  }
}

/** One decoded field: a varint value or a length-delimited payload. */
export type ProtoField = { field: number; wireType: typeof WIRE_VARINT; value: number } | { field: number; wireType: typeof WIRE_BYTES; value: Uint8Array }

/** Reads the fields of one message. @throws Error on truncated input or an unsupported wire type. */
export function* readFields(bytes: Uint8Array): Generator<ProtoField> {
  let offset = 0
  const varint = (): number => {
    let value = 0
    let scale = 1
    for (;;) {
      if (offset >= bytes.length) throw new Error('truncated protobuf varint')
      const byte = bytes[offset++]!
      value += (byte & 0x7f) * scale
      if (byte < 0x80) return value
      scale *= 0x80
    }
  }
  while (offset < bytes.length) {
    const key = varint()
    const field = Math.floor(key / 8)
    const wireType = key % 8
    if (wireType === WIRE_VARINT) {
      yield { field, wireType, value: varint() }
    } else if (wireType === WIRE_BYTES) {
      const length = varint()
      if (offset + length > bytes.length) throw new Error('truncated protobuf field')
      yield { field, wireType, value: bytes.subarray(offset, offset + length) }
      offset += length
    } else {
      throw new Error(`unsupported protobuf wire type ${wireType}`)
    }
  }
}
