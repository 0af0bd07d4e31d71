/**
 * @module TupleData as the server sent it. Its values stay bytes until someone needs them, so a
 * record format can copy them straight into its output instead of making a string of each one.
 */
import { decodeUtf8, DecodeError } from './byte-reader.ts'
import { COLUMN_BINARY, COLUMN_NULL, COLUMN_TEXT, COLUMN_UNCHANGED } from './tags.ts'

/** Marks an unchanged TOASTed column: the server did not send its value, it is not NULL. */
export const UNCHANGED_TOAST: unique symbol = Symbol.for('pg-to-brokers.unchanged-toast')

/**
 * One column of a tuple as sent by pgoutput:
 * - `null`: the column is NULL ('n');
 * - `UNCHANGED_TOAST`: an unchanged TOASTed value the server did not send ('u');
 * - `string`: the value in text format ('t');
 * - `Uint8Array`: the value in binary format ('b'), only when the binary option is on.
 */
export type TupleValue = string | null | Uint8Array | typeof UNCHANGED_TOAST

/**
 * A TupleData: `columnCount` columns, each a kind byte and, for 't' and 'b', an Int32 length and
 * that many bytes. `bytes` is a view of the payload, not a copy: its buffer must not be reused
 * while the tuple is in use. The layout was checked when the tuple was read, so walking it
 * needs no bounds checks.
 */
export class Tuple {
  constructor(
    readonly bytes: Uint8Array,
    /** Offset in `bytes` of the first column's kind byte. */
    readonly start: number,
    readonly columnCount: number,
    /** True when some column is 'u' (its unchanged TOASTed value was not sent). */
    readonly hasUnchangedToast: boolean,
  ) {}

  /**
   * Reads the TupleData at index `offset` of `bytes` (Int16 column count, then the columns) and
   * returns it with the index just past it. Throws `DecodeError` on a malformed tuple; its offsets
   * count from `origin`, where the payload starts.
   */
  static read(bytes: Uint8Array, offset: number, origin = 0): { tuple: Tuple; end: number } {
    if (offset + 2 > bytes.length) throw tooShort(bytes, origin, offset, 2)
    const count = (bytes[offset]! << 8) | bytes[offset + 1]!
    if (count & 0x8000) throw malformed(origin, offset, `negative tuple column count ${count - 0x10000}`)
    const start = offset + 2
    let at = start
    let hasUnchangedToast = false
    for (let i = 0; i < count; i++) {
      if (at >= bytes.length) throw tooShort(bytes, origin, at, 1)
      const kind = bytes[at]!
      if (kind === COLUMN_TEXT || kind === COLUMN_BINARY) {
        if (at + 5 > bytes.length) throw tooShort(bytes, origin, at + 1, 4)
        const length = readInt32(bytes, at + 1)
        if (length < 0) throw malformed(origin, at + 1, `negative column value length ${length}`)
        if (at + 5 + length > bytes.length) throw tooShort(bytes, origin, at + 5, length)
        at += 5 + length
      } else if (kind === COLUMN_NULL) at++
      else if (kind === COLUMN_UNCHANGED) {
        hasUnchangedToast = true
        at++
      } else throw malformed(origin, at, `unknown tuple column kind 0x${kind.toString(16).padStart(2, '0')}`)
    }
    return { tuple: new Tuple(bytes, start, count, hasUnchangedToast), end: at }
  }

  /** Column `index` as sent (a view): its kind byte, then for 't' and 'b' its length and value. */
  column(index: number): Uint8Array {
    const bytes = this.bytes
    let at = this.start
    for (let i = 0; ; i++) {
      const kind = bytes[at]!
      const end = kind === COLUMN_TEXT || kind === COLUMN_BINARY ? at + 5 + readInt32(bytes, at + 1) : at + 1
      if (i === index) return bytes.subarray(at, end)
      at = end
    }
  }

  /** Every column as a TupleValue: text decoded from UTF-8, binary values as views of `bytes`. */
  values(): TupleValue[] {
    const bytes = this.bytes
    const values: TupleValue[] = new Array(this.columnCount)
    let at = this.start
    for (let i = 0; i < values.length; i++) {
      const kind = bytes[at]!
      if (kind === COLUMN_TEXT || kind === COLUMN_BINARY) {
        const end = at + 5 + readInt32(bytes, at + 1)
        values[i] = kind === COLUMN_TEXT ? decodeUtf8(bytes, at + 5, end) : bytes.subarray(at + 5, end)
        at = end
      } else {
        values[i] = kind === COLUMN_NULL ? null : UNCHANGED_TOAST
        at++
      }
    }
    return values
  }
}

export function readInt32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!
}

function malformed(origin: number, at: number, what: string): DecodeError {
  return new DecodeError(`${what} at offset ${at - origin}`, at - origin)
}

function tooShort(bytes: Uint8Array, origin: number, at: number, n: number): DecodeError {
  return new DecodeError(`cannot read ${n} bytes at offset ${at - origin}: the message is ${bytes.length - origin} bytes long`, at - origin)
}
