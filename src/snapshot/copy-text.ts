/**
 * @module Reads `COPY … TO STDOUT` text output, from chunks that split rows anywhere, into Tuples
 * laid out as pgoutput's TupleData, so a snapshot row takes the formats' byte path like a streamed one.
 */
import { PgToBrokersError } from '../errors.ts'
import { readInt32, Tuple } from '../pg/pgoutput/tuple.ts'
import { COLUMN_NULL, COLUMN_TEXT } from '../pg/pgoutput/tags.ts'

/** One row: its tuple (a view of a buffer no later row writes to) and its key columns' text. */
export interface CopyRow {
  readonly tuple: Tuple
  readonly key: string[]
}

const TAB = 0x09
const NEWLINE = 0x0a
const BACKSLASH = 0x5c
const LETTER_N = 0x4e

/**
 * Parses rows of `columnCount` columns; `keyIndexes` name the columns whose text each row also
 * returns (as strings). Feed chunks with `push`, in order; call `end` after the last one.
 */
export class CopyTextParser {
  readonly #columnCount: number
  readonly #keyIndexes: readonly number[]
  /** Bytes of a row not yet ended by a newline, as pieces (joined once the newline comes). */
  #partial: Uint8Array[] = []
  readonly #decoder = new TextDecoder('utf-8', { fatal: true })

  constructor(columnCount: number, keyIndexes: readonly number[]) {
    this.#columnCount = columnCount
    this.#keyIndexes = keyIndexes
  }

  /** The rows this chunk completes. @throws PgToBrokersError 'protocol_error' for a row of another column count. */
  push(chunk: Uint8Array): CopyRow[] {
    const rows: CopyRow[] = []
    let from = 0
    if (this.#partial.length > 0) {
      const newline = chunk.indexOf(NEWLINE)
      if (newline < 0) {
        this.#partial.push(chunk.slice())
        return rows
      }
      this.#partial.push(chunk.subarray(0, newline + 1))
      this.#parse(join(this.#partial), rows)
      this.#partial = []
      from = newline + 1
    }
    const last = chunk.lastIndexOf(NEWLINE)
    if (last >= from) this.#parse(chunk.subarray(from, last + 1), rows)
    const rest = Math.max(from, last + 1)
    if (rest < chunk.length) this.#partial.push(chunk.slice(rest))
    return rows
  }

  /** @throws PgToBrokersError 'protocol_error' when the output stopped inside a row. */
  end(): void {
    if (this.#partial.length > 0) throw new PgToBrokersError('protocol_error', 'COPY output ended inside a row (the connection was cut?): read the chunk again')
  }

  /** Parses whole rows (`text` ends with a newline) into one new buffer, sized for the worst case. */
  #parse(text: Uint8Array, rows: CopyRow[]): void {
    let count = 0
    for (let at = text.indexOf(NEWLINE); at >= 0; at = text.indexOf(NEWLINE, at + 1)) count++
    // A column takes at least its separator in the text, and 5 bytes ('t' + Int32) at most more in the tuple.
    const out = new Uint8Array(text.length + count * (2 + 4 * this.#columnCount))
    let o = 0
    let at = 0
    const cursor = { at, o }
    while (at < text.length) {
      const rowStart = o
      const keyStarts: number[] = []
      o += 2
      let columns = 0
      for (;;) {
        columns++
        const kind = o
        if (text[at] === BACKSLASH && text[at + 1] === LETTER_N && (text[at + 2] === TAB || text[at + 2] === NEWLINE)) {
          out[o++] = COLUMN_NULL
          at += 2
        } else {
          out[o] = COLUMN_TEXT
          cursor.at = at
          cursor.o = o + 5
          unescape(text, out, cursor)
          writeInt32(out, o + 1, cursor.o - o - 5)
          at = cursor.at
          o = cursor.o
        }
        keyStarts.push(kind)
        if (text[at++] === NEWLINE) break
      }
      if (columns !== this.#columnCount) {
        throw new PgToBrokersError(
          'protocol_error',
          `a COPY row has ${columns} columns, the table ${this.#columnCount}: the table changed while it was read; read it again`,
        )
      }
      out[rowStart] = columns >> 8
      out[rowStart + 1] = columns & 0xff
      const bytes = out.subarray(rowStart, o)
      rows.push({ tuple: new Tuple(bytes, 2, columns, false), key: this.#keyOf(out, keyStarts) })
    }
  }

  #keyOf(out: Uint8Array, starts: readonly number[]): string[] {
    return this.#keyIndexes.map((i) => {
      const at = starts[i]!
      if (out[at] === COLUMN_NULL) throw new PgToBrokersError('protocol_error', `key column ${i + 1} of a snapshot row is NULL: a key column must be NOT NULL`)
      return this.#decoder.decode(out.subarray(at + 5, at + 5 + readInt32(out, at + 1)))
    })
  }
}

/** Copies one field's text, unescaped, from `cursor.at` in `text` to `cursor.o` in `out`, up to its tab or newline; moves the cursor past both. */
function unescape(text: Uint8Array, out: Uint8Array, cursor: { at: number; o: number }): void {
  let at = cursor.at
  let o = cursor.o
  for (;;) {
    const byte = text[at]!
    if (byte === TAB || byte === NEWLINE) {
      cursor.at = at
      cursor.o = o
      return
    }
    if (byte !== BACKSLASH) {
      out[o++] = byte
      at++
      continue
    }
    const next = text[at + 1]!
    at += 2
    if (next >= 0x30 && next <= 0x37) {
      let value = next - 0x30
      for (let n = 1; n < 3 && text[at]! >= 0x30 && text[at]! <= 0x37; n++) value = value * 8 + (text[at++]! - 0x30)
      out[o++] = value & 0xff
    } else if (next === 0x78 && hexValue(text[at]!) >= 0) {
      let value = hexValue(text[at++]!)
      if (hexValue(text[at]!) >= 0) value = value * 16 + hexValue(text[at++]!)
      out[o++] = value
    } else out[o++] = ESCAPED[next] ?? next
  }
}

/** The control characters COPY writes as a backslash and a letter (COPY's "Text Format" section). */
const ESCAPED: Readonly<Record<number, number>> = { 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09, 0x76: 0x0b }

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37
  return -1
}

function writeInt32(out: Uint8Array, at: number, value: number): void {
  out[at] = value >>> 24
  out[at + 1] = (value >>> 16) & 0xff
  out[at + 2] = (value >>> 8) & 0xff
  out[at + 3] = value & 0xff
}

function join(pieces: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const piece of pieces) {
    out.set(piece, o)
    o += piece.length
  }
  return out
}
