/**
 * @module Chooses, once per column, the function that turns the server's text for a value into a
 * PgValue. Decoders are prebuilt so the per-value path has no switch on the type.
 */
import { parseArrayLiteral } from './array.ts'
import { isoTimestamp, isoTimestamptz, isoTimetz } from './temporal.ts'
import { JsonText, type PgType, type PgValue, type ValueDecoder } from './types.ts'

const asText: ValueDecoder = (text) => text
const asBoolean: ValueDecoder = (text) => text === 't'
// Number() also reads the float spellings the server uses: 'NaN', 'Infinity', '-Infinity', '1e+100'.
const asNumber: ValueDecoder = (text) => Number(text)
/** Up to 15 characters an int8 is below 2^53 in magnitude, so Number() reads it exactly, and BigInt(number) beats BigInt(text). */
const EXACT_NUMBER_DIGITS = 15
const asBigInt: ValueDecoder = (text) => {
  if (text.length > EXACT_NUMBER_DIGITS) return BigInt(text)
  const n = Number(text)
  // Anything but an integer is malformed: BigInt(text) then throws the runtime's usual error.
  return Number.isInteger(n) ? BigInt(n) : BigInt(text)
}
const asJson: ValueDecoder = (text) => new JsonText(text)
/**
 * int2vector and oidvector: int2vectorout/oidvectorout write the elements separated by single
 * spaces ('1 2 3'; '' when empty). Every element fits a number exactly (oids are uint32).
 */
const asIntegerVector: ValueDecoder = (text) => {
  if (text === '') return []
  const parts = text.split(' ')
  const items = parts.map(Number)
  if (parts.includes('') || !items.every(Number.isInteger))
    throw new Error(`invalid int2vector/oidvector text: expected integers separated by single spaces, got ${preview(text)}`)
  return items
}

/** Decoders by scalar OID; any OID not listed keeps the server's text. */
const SCALAR_DECODERS = new Map<number, ValueDecoder>([
  [16, asBoolean], // bool
  [21, asNumber], // int2
  [23, asNumber], // int4
  [26, asNumber], // oid
  [22, asIntegerVector], // int2vector
  [30, asIntegerVector], // oidvector
  [20, asBigInt], // int8: beyond 2^53, so never a number
  [700, asNumber], // float4
  [701, asNumber], // float8
  [114, asJson], // json
  [3802, asJson], // jsonb
  [17, decodeHexBytea], // bytea
  [1114, isoTimestamp], // timestamp
  [1184, isoTimestamptz], // timestamptz
  [1266, isoTimetz], // timetz
  // numeric, money, text, varchar, bpchar, name, char, uuid, date, time, interval: text as-is.
])

/**
 * The decoder for one column type. Array types (`element` set) decode each element with the
 * element type's decoder; NULL elements become null. The returned decoder throws on a malformed
 * array literal or bytea text (the message names the position).
 */
export function decoderFor(type: PgType): ValueDecoder {
  if (type.element) return arrayDecoder(type.element, type.delimiter)
  return SCALAR_DECODERS.get(type.scalarOid) ?? asText
}

/** True when values of this type are the server's text unchanged (numeric, text, uuid, date, enums, …). */
export function keepsServerText(type: PgType): boolean {
  return type.element === undefined && !SCALAR_DECODERS.has(type.scalarOid)
}

function arrayDecoder(element: PgType, arrayDelimiter: string): ValueDecoder {
  const decodeElement = decoderFor(element)
  // typdelim belongs to the element type (box: ';'), but a resolver may have copied it onto the
  // array type instead; whichever side is not the default ',' is the real one.
  const delimiter = element.delimiter !== ',' ? element.delimiter : arrayDelimiter
  return (text): PgValue => parseArrayLiteral(text, decodeElement, delimiter)
}

/** Hex digit value by character code; -1 for anything that is not a hex digit. */
const NIBBLE = new Int8Array(128).fill(-1)
for (let i = 0; i < 10; i++) NIBBLE[0x30 + i] = i
for (let i = 0; i < 6; i++) NIBBLE[0x41 + i] = NIBBLE[0x61 + i] = 10 + i

/**
 * bytea in hex output ('\x0aff') → bytes.
 * @throws Error when the text is not '\x' followed by an even number of hex digits
 * (e.g. bytea_output=escape).
 */
export function decodeHexBytea(text: string): Uint8Array {
  if (text.charCodeAt(0) !== 0x5c || text.charCodeAt(1) !== 0x78 || text.length % 2 !== 0) {
    throw new Error(`invalid bytea text: expected '\\x' and an even number of hex digits, got ${preview(text)}`)
  }
  const bytes = new Uint8Array((text.length - 2) / 2)
  for (let i = 0, j = 2; i < bytes.length; i++, j += 2) {
    const high = NIBBLE[text.charCodeAt(j)] ?? -1
    const low = NIBBLE[text.charCodeAt(j + 1)] ?? -1
    if ((high | low) < 0) throw new Error(`invalid bytea text: non-hex digit at position ${high < 0 ? j : j + 1} of ${preview(text)}`)
    bytes[i] = (high << 4) | low
  }
  return bytes
}

function preview(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)
}
