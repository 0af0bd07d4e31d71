/** @module Encodes one decoded PostgreSQL value as JSON text, exactly (no precision lost). */
import { JsonText, type PgValue } from '../../pg/values/types.ts'

const HEX_DIGITS = new TextEncoder().encode('0123456789abcdef')
const BYTES_PREFIX = new TextEncoder().encode('"\\\\x') // the JSON text "\\x
const ascii = new TextDecoder()
/**
 * What JSON.stringify escapes in a string: '"', '\\', control characters, and UTF-16 surrogates
 * (it keeps valid pairs, but telling those apart is its job). Strings without any are quoted as-is.
 */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/

/**
 * JSON text for a PgValue: bigint as bare digits (exact, though many parsers read it as a double);
 * NaN and ±Infinity as the strings "NaN", "Infinity", "-Infinity"; bytes as the string "\\x…"
 * (PostgreSQL's hex form); JsonText embedded verbatim; arrays recursively. Never throws for a
 * PgValue.
 */
export function encodeJsonValue(value: PgValue): string {
  switch (typeof value) {
    case 'string':
      // Most values need no escaping; a regular-expression test and a quote beat JSON.stringify there.
      return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`
    case 'number':
      // String() gives the shortest round-trip form, which is valid JSON for finite numbers.
      return Number.isFinite(value) ? String(value) : `"${value}"`
    case 'bigint':
      return value.toString()
    case 'boolean':
      return value ? 'true' : 'false'
  }
  if (value === null) return 'null'
  if (value instanceof JsonText) return value.text
  if (value instanceof Uint8Array) return encodeBytes(value)
  return encodeArray(value)
}

/** Writes the ASCII into a buffer and decodes it once: far faster than a string per byte for big values. */
function encodeBytes(bytes: Uint8Array): string {
  const out = new Uint8Array(BYTES_PREFIX.length + bytes.length * 2 + 1)
  out.set(BYTES_PREFIX)
  let j = BYTES_PREFIX.length
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!
    out[j++] = HEX_DIGITS[b >> 4]!
    out[j++] = HEX_DIGITS[b & 15]!
  }
  out[j] = 0x22 // closing quote
  return ascii.decode(out)
}

function encodeArray(values: readonly PgValue[]): string {
  if (values.length === 0) return '[]'
  let out = `[${encodeJsonValue(values[0]!)}`
  for (let i = 1; i < values.length; i++) out += `,${encodeJsonValue(values[i]!)}`
  return `${out}]`
}
