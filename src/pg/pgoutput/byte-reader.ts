/** @module A bounds-checked big-endian cursor over a byte array, for decoding pgoutput payloads. */

/** A payload could not be decoded: truncated, malformed, or of an unknown kind. `offset` is where, in the payload. */
export class DecodeError extends Error {
  override name = 'DecodeError'

  constructor(
    message: string,
    /** Byte offset in the payload at which decoding failed. */
    readonly offset: number,
  ) {
    super(message)
  }
}

/** `ignoreBOM`: a text value that starts with U+FEFF must keep it; the default decoder would strip it. */
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true })

/**
 * Up to this many bytes, building an ASCII string by hand beats a `TextDecoder` call on
 * Node 20, Deno 2 and Bun (measured: its fixed cost dominates short values); above it, it loses.
 */
const SHORT_ASCII_MAX = 10

/** Decodes `bytes[start..end)` as UTF-8 (invalid sequences become U+FFFD, as with any `TextDecoder`). */
export function decodeUtf8(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= SHORT_ASCII_MAX) {
    let text = ''
    for (let i = start; i < end; i++) {
      const byte = bytes[i]!
      if (byte >= 0x80) return utf8Decoder.decode(bytes.subarray(start, end))
      text += String.fromCharCode(byte)
    }
    return text
  }
  return utf8Decoder.decode(bytes.subarray(start, end))
}

/**
 * Reads big-endian integers, C strings and byte runs from a `Uint8Array`, which may be a view
 * into a larger buffer. Every read checks bounds against the view and throws `DecodeError`
 * past its end. `reset` points the reader at a new array so one reader serves many messages.
 */
export class ByteReader {
  private data: Uint8Array = new Uint8Array(0)
  /** Covers the whole underlying buffer, so it can be kept while messages are views of one chunk. */
  private view: DataView = new DataView(this.data.buffer)
  private base = 0
  private pos = 0
  /** Where the payload starts in `data`: offsets in errors count from there. */
  private origin = 0

  constructor(bytes?: Uint8Array) {
    if (bytes) this.reset(bytes)
  }

  /** Starts reading `bytes` at `start` (a payload behind a header need not be cut out with a new view first). */
  reset(bytes: Uint8Array, start = 0): void {
    if (bytes.buffer !== this.view.buffer) this.view = new DataView(bytes.buffer)
    this.data = bytes
    this.base = bytes.byteOffset
    this.pos = start
    this.origin = start
  }

  /** Position of the next byte to read, from the start of the payload. */
  get offset(): number {
    return this.pos - this.origin
  }

  /** The array being read; `position` is the next byte's index in it. */
  get array(): Uint8Array {
    return this.data
  }

  get position(): number {
    return this.pos
  }

  /** Continues reading at index `position` of `array`, which a caller that parsed ahead (see `Tuple.read`) already checked. */
  seek(position: number): void {
    this.pos = position
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.data.length - this.pos
  }

  /** Reads one unsigned byte. Throws `DecodeError` past the end. */
  u8(): number {
    const at = this.claim(1)
    return this.data[at]!
  }

  /** Reads a signed 16-bit integer. Throws `DecodeError` past the end. */
  i16(): number {
    return this.view.getInt16(this.base + this.claim(2))
  }

  /** Reads a signed 32-bit integer. Throws `DecodeError` past the end. */
  i32(): number {
    return this.view.getInt32(this.base + this.claim(4))
  }

  /** Reads an unsigned 32-bit integer (OIDs, transaction ids). Throws `DecodeError` past the end. */
  u32(): number {
    return this.view.getUint32(this.base + this.claim(4))
  }

  /** Reads an unsigned 64-bit integer (LSNs). Throws `DecodeError` past the end. */
  u64(): bigint {
    return this.view.getBigUint64(this.base + this.claim(8))
  }

  /** Reads a signed 64-bit integer (timestamps). Throws `DecodeError` past the end. */
  i64(): bigint {
    return this.view.getBigInt64(this.base + this.claim(8))
  }

  /** Reads a NUL-terminated UTF-8 string, consuming the NUL. Throws `DecodeError` if there is no NUL. */
  cstring(): string {
    const start = this.pos
    const nul = this.data.indexOf(0, start)
    if (nul < 0) throw new DecodeError(`unterminated string at offset ${this.offset}: no NUL in the ${this.remaining} bytes left`, this.offset)
    this.pos = nul + 1
    return decodeUtf8(this.data, start, nul)
  }

  /** Reads `n` bytes as UTF-8 text. Throws `DecodeError` past the end. */
  text(n: number): string {
    const start = this.claim(n)
    return decodeUtf8(this.data, start, start + n)
  }

  /** Returns the next `n` bytes as a view sharing the caller's buffer (no copy). Throws `DecodeError` past the end. */
  bytes(n: number): Uint8Array {
    const start = this.claim(n)
    return this.data.subarray(start, start + n)
  }

  /** Advances past `n` bytes and returns where they start; throws rather than read outside the view. */
  private claim(n: number): number {
    const at = this.pos
    if (n < 0 || n > this.data.length - at) {
      throw new DecodeError(`cannot read ${n} bytes at offset ${this.offset}: the message is ${this.data.length - this.origin} bytes long`, this.offset)
    }
    this.pos = at + n
    return at
  }
}
