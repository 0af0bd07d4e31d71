/**
 * @module JSON for a column value written straight from the server's text bytes, for the types
 * where that text maps onto the JSON of the decoded value by copying (integers, json, and integer
 * vectors with commas for spaces) or by quoting (text-like types, timestamps). The output is
 * byte-identical to encoding the decoded value with `encodeJsonValue`; any other value takes that
 * path. Relies on the session settings of `OUTPUT_SETTINGS` (TimeZone UTC, bytea_output hex), as
 * the decoders do.
 */
import { decodeUtf8 } from '../../pg/pgoutput/byte-reader.ts'
import { keepsServerText } from '../../pg/values/decode.ts'
import type { RelationColumnSchema } from '../relations.ts'
import { encodeJsonValue } from './json-value.ts'
import type { JsonBytes } from './json-bytes.ts'

/** How a column's text becomes JSON. */
export const TextForm = {
  /** Decode to a PgValue and encode that (floats, arrays, timetz, and anything not below). */
  Decoded: 0,
  /** The text is the JSON, and ASCII: integers. */
  Integer: 1,
  /** The text, quoted and escaped: types whose value is the server's text. */
  Quoted: 2,
  Boolean: 3,
  /** 'YYYY-MM-DD HH:MM:SS[.f]' → quoted, with 'T' for the space. */
  Timestamp: 4,
  /** As Timestamp, and the '+00' offset becomes 'Z'. */
  Timestamptz: 5,
  /** '\x…' hex → the JSON string "\\x…". */
  Bytea: 6,
  /** The text is the JSON: json, jsonb. */
  Json: 7,
  /** '1 2 3' → [1,2,3]: int2vector, oidvector. */
  IntegerVector: 8,
} as const
export type TextForm = (typeof TextForm)[keyof typeof TextForm]

const FORM_BY_OID = new Map<number, TextForm>([
  [21, TextForm.Integer], // int2
  [23, TextForm.Integer], // int4
  [20, TextForm.Integer], // int8
  [26, TextForm.Integer], // oid
  [114, TextForm.Json],
  [3802, TextForm.Json],
  [16, TextForm.Boolean],
  [1114, TextForm.Timestamp],
  [1184, TextForm.Timestamptz],
  [17, TextForm.Bytea],
  [22, TextForm.IntegerVector], // int2vector
  [30, TextForm.IntegerVector], // oidvector
])

export function textFormOf(column: RelationColumnSchema): TextForm {
  if (keepsServerText(column.type)) return TextForm.Quoted
  if (column.type.element !== undefined) return TextForm.Decoded
  return FORM_BY_OID.get(column.type.scalarOid) ?? TextForm.Decoded
}

/**
 * Above this many bytes a value goes through the runtime's native UTF-8 decoding and encoding,
 * which beat a byte loop in JS on long values (measured on Node, Deno and Bun).
 */
const BYTE_LOOP_MAX = 64
const SPACE = 0x20

/** Writes the JSON for the text value `bytes[start..end)` of `column`. */
export function writeTextAsJson(out: JsonBytes, form: TextForm, column: RelationColumnSchema, bytes: Uint8Array, start: number, end: number): void {
  switch (form) {
    case TextForm.Integer:
      // Digits and a sign: the server's integer output is ASCII and already the shortest JSON number.
      out.copy(bytes, start, end)
      return
    case TextForm.Json:
      if (end - start <= BYTE_LOOP_MAX && isAscii(bytes, start, end)) out.copy(bytes, start, end)
      else out.text(decodeUtf8(bytes, start, end))
      return
    case TextForm.Quoted:
      if (end - start > BYTE_LOOP_MAX || !out.asciiString(bytes, start, end)) out.text(encodeJsonValue(decodeUtf8(bytes, start, end)))
      return
    case TextForm.Boolean:
      out.ascii(bytes[start] === 0x74 ? 'true' : 'false')
      return
    case TextForm.Timestamp:
    case TextForm.Timestamptz:
      if (!writeTimestamp(out, form === TextForm.Timestamptz, bytes, start, end)) break
      return
    case TextForm.Bytea:
      // The JSON string "\\x…": the backslash doubled, the hex digits as sent (the server writes them in lower case).
      if (bytes[start] !== 0x5c || bytes[start + 1] !== 0x78) break
      out.ascii('"\\')
      out.copy(bytes, start, end)
      out.byte(0x22)
      return
    case TextForm.IntegerVector:
      writeIntegerVector(out, bytes, start, end)
      return
  }
  out.text(encodeJsonValue(column.decode(decodeUtf8(bytes, start, end))))
}

/** The server's integers, already shortest JSON numbers, with each separating space made a comma. */
function writeIntegerVector(out: JsonBytes, bytes: Uint8Array, start: number, end: number): void {
  out.byte(0x5b) // [
  let from = start
  for (let i = start; i < end; i++) {
    if (bytes[i] !== SPACE) continue
    out.copy(bytes, from, i)
    out.byte(0x2c) // ,
    from = i + 1
  }
  out.copy(bytes, from, end)
  out.byte(0x5d) // ]
}

function isAscii(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) return false
  return true
}

/**
 * The shape of every ordinary timestamp the server writes with DateStyle ISO and TimeZone UTC:
 * 'YYYY-MM-DD HH:MM:SS[.ffffff]' and, for timestamptz, '+00'. Returns false for anything else
 * ('infinity', BC dates, years past 9999), which the decoder then handles.
 */
function writeTimestamp(out: JsonBytes, zoned: boolean, bytes: Uint8Array, start: number, end: number): boolean {
  const timeEnd = zoned ? end - 3 : end
  const length = timeEnd - start
  if (length < 19 || length > 26 || bytes[start + 10] !== SPACE || bytes[end - 1] === 0x43 /* 'C' of ' BC' */) return false
  if (zoned && (bytes[timeEnd] !== 0x2b || bytes[timeEnd + 1] !== 0x30 || bytes[timeEnd + 2] !== 0x30)) return false
  out.byte(0x22)
  out.copy(bytes, start, start + 10)
  out.byte(0x54) // T
  out.copy(bytes, start + 11, timeEnd)
  if (zoned) out.byte(0x5a) // Z
  out.byte(0x22)
  return true
}
