/**
 * @module An output buffer for records as UTF-8 bytes. Records are written one after another into
 * large slabs and handed out as views, so a record costs no allocation of its own beyond its view,
 * and its text never exists as a JS string.
 */

const SLAB_BYTES = 256 * 1024
const QUOTE = 0x22
const BACKSLASH = 0x5c
const HEX = new TextEncoder().encode('0123456789abcdef')
/** The short escapes JSON.stringify uses, by control character; 0 where it uses \u00XX. */
const SHORT_ESCAPE = new Uint8Array(32)
SHORT_ESCAPE[0x08] = 0x62 // \b
SHORT_ESCAPE[0x09] = 0x74 // \t
SHORT_ESCAPE[0x0a] = 0x6e // \n
SHORT_ESCAPE[0x0c] = 0x66 // \f
SHORT_ESCAPE[0x0d] = 0x72 // \r

const utf8 = new TextEncoder()

/**
 * Builds one record at a time: `begin`, any writes, then `finish` returns the record's bytes. A
 * finished record is never written to again (a full slab is left to the records that view it,
 * and writing goes on in a new one).
 */
export class JsonBytes {
  #slab = new Uint8Array(SLAB_BYTES)
  #start = 0
  #pos = 0

  begin(): void {
    this.#start = this.#pos
  }

  /** The record written since `begin`. */
  finish(): Uint8Array {
    return this.#slab.subarray(this.#start, this.#pos)
  }

  /** Pre-encoded bytes (a cached fragment). */
  raw(bytes: Uint8Array): void {
    this.#ensure(bytes.length)
    this.#slab.set(bytes, this.#pos)
    this.#pos += bytes.length
  }

  /** `src[start..end)` as-is: server text that is already valid JSON (numbers, json values). */
  copy(src: Uint8Array, start: number, end: number): void {
    const n = end - start
    this.#ensure(n)
    const out = this.#slab
    let pos = this.#pos
    // A short copy is cheaper by hand than through a subarray view and set().
    if (n <= 32) for (let i = start; i < end; i++) out[pos++] = src[i]!
    else {
      out.set(src.subarray(start, end), pos)
      pos += n
    }
    this.#pos = pos
  }

  byte(value: number): void {
    this.#ensure(1)
    this.#slab[this.#pos++] = value
  }

  /** A decimal integer (ordinals, transaction ids). */
  integer(value: number): void {
    this.ascii(String(value))
  }

  /** A string known to hold only ASCII (JSON punctuation, digits, already-escaped text). */
  ascii(text: string): void {
    const n = text.length
    this.#ensure(n)
    const out = this.#slab
    let pos = this.#pos
    for (let i = 0; i < n; i++) out[pos++] = text.charCodeAt(i)
    this.#pos = pos
  }

  /** Any JS string, encoded as UTF-8 (JSON text built by the string-based encoders). */
  text(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    this.#ensure(text.length * 3)
    this.#pos += utf8.encodeInto(text, this.#slab.subarray(this.#pos)).written
  }

  /**
   * `src[start..end)` as a quoted JSON string, escaped exactly as JSON.stringify would, when it is
   * ASCII. Returns false, having written nothing, at the first byte that is not: the caller then
   * takes the string path, which treats invalid UTF-8 the way every decoder here does.
   */
  asciiString(src: Uint8Array, start: number, end: number): boolean {
    // Worst case: every byte a \u00XX escape, plus the quotes.
    this.#ensure((end - start) * 6 + 2)
    const out = this.#slab
    const from = this.#pos
    let pos = from
    out[pos++] = QUOTE
    for (let i = start; i < end; i++) {
      const b = src[i]!
      if (b >= 0x20 && b !== QUOTE && b !== BACKSLASH) {
        if (b >= 0x80) return false
        out[pos++] = b
      } else if (b >= 0x20) {
        out[pos++] = BACKSLASH
        out[pos++] = b
      } else {
        out[pos++] = BACKSLASH
        const short = SHORT_ESCAPE[b]!
        if (short !== 0) out[pos++] = short
        else {
          out[pos++] = 0x75 // u
          out[pos++] = 0x30
          out[pos++] = 0x30
          out[pos++] = HEX[b >> 4]!
          out[pos++] = HEX[b & 15]!
        }
      }
    }
    out[pos++] = QUOTE
    this.#pos = pos
    return true
  }

  /** Makes room for `n` more bytes; a record that outgrows its slab moves, whole, to a new one. */
  #ensure(n: number): void {
    if (this.#pos + n <= this.#slab.length) return
    const partial = this.#slab.subarray(this.#start, this.#pos)
    const slab = new Uint8Array(Math.max(SLAB_BYTES, (partial.length + n) * 2))
    slab.set(partial)
    this.#slab = slab
    this.#start = 0
    this.#pos = partial.length
  }
}
