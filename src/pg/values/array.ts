/**
 * @module Parser for PostgreSQL array literals (the text `array_out` writes): nested braces,
 * double-quoted elements with backslash escapes, unquoted NULL, an optional `[lo:hi]=` dimension
 * prefix and the element type's delimiter.
 */
import type { PgValue, ValueDecoder } from './types.ts'

const OPEN = 0x7b // {
const CLOSE = 0x7d // }
const QUOTE = 0x22 // "
const BACKSLASH = 0x5c // \
const BRACKET = 0x5b // [

/**
 * Parses an array literal such as `{{1,2},{3,NULL}}` or `[0:1]={"a b",c}` into nested arrays,
 * passing each non-NULL element's text to `decode`. Dimension bounds are dropped (only the values
 * matter downstream); `{}` gives `[]`. Unquoted `NULL` (any case) is null; quoted `"NULL"` is text.
 * @throws Error naming the offending position when the literal is malformed.
 */
export function parseArrayLiteral(text: string, decode: ValueDecoder, delimiter = ','): PgValue[] {
  const parser = new ArrayParser(text, decode, delimiter.charCodeAt(0))
  return parser.parseTop()
}

/** Whitespace as array_in's scanner sees it: space, \t, \n, \v, \f, \r. */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d)
}

class ArrayParser {
  private pos = 0

  constructor(
    private readonly text: string,
    private readonly decode: ValueDecoder,
    private readonly delimiter: number,
  ) {}

  parseTop(): PgValue[] {
    this.skipDimensions()
    this.skipSpace()
    if (this.text.charCodeAt(this.pos) !== OPEN) this.fail('expected "{"')
    const result = this.parseArray()
    this.skipSpace()
    if (this.pos !== this.text.length) this.fail('unexpected text after the closing "}"')
    return result
  }

  /** `[1:2][0:3]=` carries only bounds; the server sends it when a lower bound is not 1. */
  private skipDimensions(): void {
    this.skipSpace()
    if (this.text.charCodeAt(this.pos) !== BRACKET) return
    const equals = this.text.indexOf('=', this.pos)
    if (equals < 0) this.fail('dimension prefix without "="')
    this.pos = equals + 1
  }

  private skipSpace(): void {
    while (isSpace(this.text.charCodeAt(this.pos))) this.pos++
  }

  /** Starts at "{", ends after the matching "}". */
  private parseArray(): PgValue[] {
    const items: PgValue[] = []
    this.pos++
    this.skipSpace()
    if (this.text.charCodeAt(this.pos) === CLOSE) {
      this.pos++
      return items
    }
    for (;;) {
      this.skipSpace()
      items.push(this.parseElement())
      this.skipSpace()
      const c = this.text.charCodeAt(this.pos)
      if (c === CLOSE) {
        this.pos++
        return items
      }
      if (c !== this.delimiter) this.fail(Number.isNaN(c) ? 'unexpected end, expected "}"' : 'expected delimiter or "}"')
      this.pos++
    }
  }

  private parseElement(): PgValue {
    const c = this.text.charCodeAt(this.pos)
    if (c === OPEN) return this.parseArray()
    if (c === QUOTE) return this.decode(this.parseQuoted())
    if (Number.isNaN(c)) this.fail('unexpected end, expected an element')
    return this.parseUnquoted()
  }

  /** Starts at the opening quote; a backslash takes the next character literally. */
  private parseQuoted(): string {
    const text = this.text
    let out = ''
    let start = this.pos + 1
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c === QUOTE) {
        this.pos = i + 1
        return out + text.slice(start, i)
      }
      if (c === BACKSLASH) {
        out += text.slice(start, i)
        start = ++i // the escaped character opens the next slice, so it is kept as-is
      }
    }
    return this.fail('unterminated quoted element')
  }

  /**
   * Runs to the next delimiter or "}". Surrounding unescaped whitespace is not part of the value
   * (array_in trims it); only an unquoted, unescaped NULL means null.
   */
  private parseUnquoted(): PgValue {
    const { text, delimiter } = this
    let out = ''
    let start = this.pos
    let end = start // just past the last character that belongs to the value
    let escaped = false
    let i = start
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c === delimiter || c === CLOSE) break
      if (c === BACKSLASH) {
        if (i + 1 >= text.length) break
        out += text.slice(start, i)
        start = ++i
        end = i + 1
        escaped = true
      } else if (c === OPEN || c === QUOTE) {
        this.pos = i
        this.fail(`unexpected '${text[i]}' inside an unquoted element`)
      } else if (!isSpace(c)) {
        end = i + 1
      }
    }
    if (!escaped && end === this.pos) this.fail('empty unquoted element')
    const value = out + text.slice(start, end)
    this.pos = i
    if (!escaped && value.length === 4 && value.toUpperCase() === 'NULL') return null
    return this.decode(value)
  }

  private fail(reason: string): never {
    const { text, pos } = this
    const shown = text.length > 120 ? `${text.slice(0, 120)}…` : text
    throw new Error(`malformed array literal at position ${pos}: ${reason} in ${JSON.stringify(shown)}`)
  }
}
