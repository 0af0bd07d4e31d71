import { test } from '../harness.ts'
import { assert, assertEquals, assertThrows } from '../assert.ts'
import { decoderFor, decodeHexBytea } from '../../src/pg/values/decode.ts'
import { parseArrayLiteral } from '../../src/pg/values/array.ts'
import { JsonText, type PgType, type PgValue } from '../../src/pg/values/types.ts'

function scalar(oid: number, name = `oid ${oid}`, delimiter = ','): PgType {
  return { oid, name, scalarOid: oid, delimiter }
}

function arrayOf(element: PgType, delimiter = ','): PgType {
  return { oid: 1, name: `${element.name}[]`, scalarOid: 0, element, delimiter }
}

function decode(oid: number, text: string): PgValue {
  return decoderFor(scalar(oid))(text)
}

function decodeArray(elementOid: number, text: string): PgValue {
  return decoderFor(arrayOf(scalar(elementOid)))(text)
}

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values)

test('bool decodes t/f', () => {
  assertEquals(decode(16, 't'), true)
  assertEquals(decode(16, 'f'), false)
})

test('int2, int4 and oid decode to numbers', () => {
  assertEquals(decode(21, '-32768'), -32768)
  assertEquals(decode(23, '2147483647'), 2147483647)
  assertEquals(decode(23, '0'), 0)
  assertEquals(decode(26, '4294967295'), 4294967295)
})

test('int2vector and oidvector decode their space-separated text to arrays of numbers', () => {
  assertEquals(decode(22, '1 2 -3'), [1, 2, -3])
  assertEquals(decode(22, '-32768 32767'), [-32768, 32767])
  assertEquals(decode(22, ''), [])
  assertEquals(decode(30, '23 25 4294967295'), [23, 25, 4294967295])
  assertEquals(decode(30, '26'), [26])
  assertEquals(decodeArray(22, '{"1 2",3,"",NULL}'), [[1, 2], [3], [], null])
  assertThrows(() => decode(22, '1  2'), 'invalid int2vector/oidvector text')
  assertThrows(() => decode(30, '1 x'), 'expected integers separated by single spaces, got "1 x"')
})

test('int8 decodes to an exact bigint at both extremes', () => {
  assertEquals(decode(20, '9223372036854775807'), 9223372036854775807n)
  assertEquals(decode(20, '-9223372036854775808'), -9223372036854775808n)
  assertEquals(decode(20, '9007199254740993'), 9007199254740993n) // 2^53 + 1, not representable as a number
  assertEquals(decode(20, '0'), 0n)
  // Around the 15-character switch between Number() and BigInt() parsing.
  assertEquals(decode(20, '999999999999999'), 999999999999999n)
  assertEquals(decode(20, '-99999999999999'), -99999999999999n)
  assertEquals(decode(20, '-999999999999999'), -999999999999999n)
  assertEquals(decode(20, '9999999999999999'), 9999999999999999n)
  assertEquals(decode(20, '42'), 42n)
})

test('float4 and float8 decode to numbers, NaN and infinities included', () => {
  assertEquals(decode(701, '3.141592653589793'), 3.141592653589793)
  assertEquals(decode(700, '1.10000002'), 1.10000002)
  assertEquals(decode(701, '1e+100'), 1e100)
  assertEquals(decode(701, '-1.5e-07'), -1.5e-7)
  assert(Number.isNaN(decode(701, 'NaN')), 'NaN')
  assertEquals(decode(701, 'Infinity'), Infinity)
  assertEquals(decode(700, '-Infinity'), -Infinity)
  assertEquals(decode(701, '-0'), -0)
})

test('numeric and money stay exact strings', () => {
  const forty = '1234567890123456789012345678901234567890.0123456789'
  assertEquals(decode(1700, forty), forty)
  assertEquals(decode(1700, '-0.000000000000000000000000000000000000001'), '-0.000000000000000000000000000000000000001')
  assertEquals(decode(1700, 'NaN'), 'NaN')
  assertEquals(decode(1700, 'Infinity'), 'Infinity')
  assertEquals(decode(1700, '-Infinity'), '-Infinity')
  assertEquals(decode(790, '$1,234.56'), '$1,234.56')
})

test('character types, uuid and unknown types keep the server text', () => {
  for (const oid of [25, 1043, 1042, 19, 18, 2950, 600, 869]) {
    assertEquals(decode(oid, ' a "b" \\ c ☃ '), ' a "b" \\ c ☃ ', `oid ${oid}`)
  }
  assertEquals(decode(1042, 'ab   '), 'ab   ')
  assertEquals(decode(2950, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')
  assertEquals(decode(25, ''), '')
})

test('enums and domains use the scalar OID, not the type OID', () => {
  const domain: PgType = { oid: 90001, name: 'public.big_id', scalarOid: 20, delimiter: ',' }
  assertEquals(decoderFor(domain)('42'), 42n)
  const enumType: PgType = { oid: 90002, name: 'public.mood', scalarOid: 25, delimiter: ',' }
  assertEquals(decoderFor(enumType)('happy'), 'happy')
})

test('json and jsonb become JsonText with the text verbatim', () => {
  const value = decode(3802, '{"a": 1, "big": 123456789012345678901234567890}')
  assert(value instanceof JsonText, 'JsonText')
  assertEquals(value.text, '{"a": 1, "big": 123456789012345678901234567890}')
  const json = decode(114, '{ "b" :2,"a":1 }')
  assert(json instanceof JsonText, 'JsonText')
  assertEquals(json.text, '{ "b" :2,"a":1 }')
})

test('bytea decodes hex output', () => {
  assertEquals(decode(17, '\\x'), bytes())
  assertEquals(decode(17, '\\x00ff7f80'), bytes(0, 255, 127, 128))
  assertEquals(decode(17, '\\xDEADbeef'), bytes(0xde, 0xad, 0xbe, 0xef))
  const all = decodeHexBytea(`\\x${Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0')).join('')}`)
  assertEquals(all, new Uint8Array(Array.from({ length: 256 }, (_, i) => i)))
})

test('bytea rejects text that is not hex output', () => {
  assertThrows(() => decode(17, 'abc'), "expected '\\x'")
  assertThrows(() => decode(17, '\\x0'), 'even number')
  assertThrows(() => decode(17, '\\x0g'), 'non-hex digit at position 3')
  assertThrows(() => decode(17, '\\x☃0'), 'non-hex digit at position 2')
})

test('date, time and interval keep the server text', () => {
  assertEquals(decode(1082, '2026-11-24'), '2026-11-24')
  assertEquals(decode(1082, 'infinity'), 'infinity')
  assertEquals(decode(1082, '-infinity'), '-infinity')
  assertEquals(decode(1082, '0044-03-15 BC'), '0044-03-15 BC')
  assertEquals(decode(1083, '23:03:37.123456'), '23:03:37.123456')
  assertEquals(decode(1083, '24:00:00'), '24:00:00')
  assertEquals(decode(1186, 'P1Y2M3DT4H5M6.789S'), 'P1Y2M3DT4H5M6.789S')
  assertEquals(decode(1186, 'PT-0.000001S'), 'PT-0.000001S')
})

test('timetz normalizes ±HH to ±HH:MM and keeps longer offsets', () => {
  assertEquals(decode(1266, '23:03:37.123456+00'), '23:03:37.123456+00:00')
  assertEquals(decode(1266, '23:03:37-08'), '23:03:37-08:00')
  assertEquals(decode(1266, '04:05:06+05:30'), '04:05:06+05:30')
  assertEquals(decode(1266, '04:05:06-00:01:15'), '04:05:06-00:01:15')
})

test('timestamp becomes ISO 8601 with a T', () => {
  assertEquals(decode(1114, '2026-11-24 23:03:37.123456'), '2026-11-24T23:03:37.123456')
  assertEquals(decode(1114, '2026-11-24 23:03:37'), '2026-11-24T23:03:37')
  assertEquals(decode(1114, '12345-01-02 03:04:05'), '12345-01-02T03:04:05')
  assertEquals(decode(1114, 'infinity'), 'infinity')
  assertEquals(decode(1114, '-infinity'), '-infinity')
  assertEquals(decode(1114, '0044-03-15 12:00:00 BC'), '0044-03-15 12:00:00 BC')
})

test('timestamptz becomes ISO 8601 with Z for UTC and ±HH:MM otherwise', () => {
  assertEquals(decode(1184, '2026-11-24 23:03:37.123456+00'), '2026-11-24T23:03:37.123456Z')
  assertEquals(decode(1184, '2026-11-24 23:03:37+00'), '2026-11-24T23:03:37Z')
  assertEquals(decode(1184, '2026-11-24 23:03:37-08'), '2026-11-24T23:03:37-08:00')
  assertEquals(decode(1184, '2026-11-24 23:03:37.5+05:30'), '2026-11-24T23:03:37.5+05:30')
  assertEquals(decode(1184, '1883-11-18 12:00:00-04:56:02'), '1883-11-18T12:00:00-04:56:02')
  assertEquals(decode(1184, '2026-11-24 23:03:37+00:00'), '2026-11-24T23:03:37Z')
  assertEquals(decode(1184, 'infinity'), 'infinity')
  assertEquals(decode(1184, '-infinity'), '-infinity')
  assertEquals(decode(1184, '0044-03-15 12:00:00+00 BC'), '0044-03-15 12:00:00+00 BC')
})

test('arrays of int, int8, bool and numeric decode each element', () => {
  assertEquals(decodeArray(23, '{1,-2,3}'), [1, -2, 3])
  assertEquals(decodeArray(20, '{9223372036854775807,NULL}'), [9223372036854775807n, null])
  assertEquals(decodeArray(16, '{t,f,NULL}'), [true, false, null])
  assertEquals(decodeArray(1700, '{1.50,NaN,12345678901234567890123456789012345678901}'), ['1.50', 'NaN', '12345678901234567890123456789012345678901'])
  const floats = decodeArray(701, '{NaN,Infinity,-Infinity,1.5}') as PgValue[]
  assert(Number.isNaN(floats[0]), 'NaN element')
  assertEquals(floats.slice(1), [Infinity, -Infinity, 1.5])
})

test('empty arrays', () => {
  assertEquals(decodeArray(23, '{}'), [])
  assertEquals(decodeArray(25, '{}'), [])
})

test('multi-dimensional arrays keep their nesting', () => {
  assertEquals(decodeArray(23, '{{1,2},{3,4}}'), [
    [1, 2],
    [3, 4],
  ])
  assertEquals(decodeArray(23, '{{{1,2},{3,4}},{{5,6},{7,NULL}}}'), [
    [
      [1, 2],
      [3, 4],
    ],
    [
      [5, 6],
      [7, null],
    ],
  ])
  assertEquals(decodeArray(25, '{{a,"b c"},{"",NULL}}'), [
    ['a', 'b c'],
    ['', null],
  ])
})

test('text arrays: NULL vs "NULL", quotes, backslashes, delimiters, braces, spaces, unicode', () => {
  assertEquals(decodeArray(25, '{NULL,null,Null,"NULL","null"}'), [null, null, null, 'NULL', 'null'])
  assertEquals(decodeArray(25, '{"say \\"hi\\"","back\\\\slash","a,b","{x}","  padded  ",""}'), ['say "hi"', 'back\\slash', 'a,b', '{x}', '  padded  ', ''])
  assertEquals(decodeArray(25, '{héllo,"☃ snow",𝄞,日本語}'), ['héllo', '☃ snow', '𝄞', '日本語'])
  assertEquals(decodeArray(25, '{"","",""}'), ['', '', ''])
  assertEquals(decodeArray(25, '{NULLS,"x"}'), ['NULLS', 'x'])
  assertEquals(decodeArray(25, '{"line\nbreak","tab\there"}'), ['line\nbreak', 'tab\there'])
})

test('unquoted elements: surrounding whitespace trimmed, escapes honored, escaped NULL is text', () => {
  assertEquals(decodeArray(25, '{ a , b c ,d}'), ['a', 'b c', 'd'])
  assertEquals(decodeArray(25, '{\ta\r\n,\fb\v}'), ['a', 'b'])
  assertEquals(decodeArray(25, '{a\\,b,\\NULL,x\\ }'), ['a,b', 'NULL', 'x '])
  assertEquals(decodeArray(23, '{ {1, 2} , {3,4} }'), [
    [1, 2],
    [3, 4],
  ])
})

test('arrays of jsonb, timestamptz, bytea and uuid', () => {
  const json = decodeArray(3802, '{"{\\"a\\": \\"x,y\\"}","[1, 2]",NULL}') as PgValue[]
  assertEquals(json.length, 3)
  assert(json[0] instanceof JsonText && json[1] instanceof JsonText, 'JsonText elements')
  assertEquals(json[0].text, '{"a": "x,y"}')
  assertEquals(json[1].text, '[1, 2]')
  assertEquals(json[2], null)
  assertEquals(decodeArray(1184, '{"2026-11-24 23:03:37.123456+00",infinity,NULL}'), ['2026-11-24T23:03:37.123456Z', 'infinity', null])
  assertEquals(decodeArray(17, '{"\\\\x00ff","\\\\x",NULL}'), [bytes(0, 255), bytes(), null])
  assertEquals(decodeArray(2950, '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'), ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'])
})

test('dimension prefix is skipped and values kept', () => {
  assertEquals(decodeArray(23, '[0:1]={1,2}'), [1, 2])
  assertEquals(decodeArray(23, '[-2:-1][3:4]={{1,2},{3,4}}'), [
    [1, 2],
    [3, 4],
  ])
  assertEquals(decodeArray(25, '[5:5]={"="}'), ['='])
})

test('box arrays split on ";" whichever side carries the delimiter', () => {
  const literal = '{(3,4),(1,2);(1,1),(0,0);NULL}'
  const expected = ['(3,4),(1,2)', '(1,1),(0,0)', null]
  assertEquals(decoderFor(arrayOf(scalar(603, 'box', ';')))(literal), expected)
  assertEquals(decoderFor(arrayOf(scalar(603, 'box', ','), ';'))(literal), expected)
  assertEquals(decoderFor(arrayOf(scalar(603, 'box', ';')))('{{(1,1),(0,0)};{(2,2),(1,1)}}'), [['(1,1),(0,0)'], ['(2,2),(1,1)']])
})

test('malformed array literals throw, naming the position', () => {
  const dec = (text: string) => parseArrayLiteral(text, (t) => t)
  assertThrows(() => dec('1,2'), 'malformed array literal at position 0: expected "{"')
  assertThrows(() => dec('{1,2'), 'at position 4: unexpected end')
  assertThrows(() => dec('{1,'), 'at position 3: unexpected end')
  assertThrows(() => dec('{"abc}'), 'at position 1: unterminated quoted element')
  assertThrows(() => dec('{1,2}x'), 'at position 5: unexpected text after')
  assertThrows(() => dec('{,1}'), 'at position 1: empty unquoted element')
  assertThrows(() => dec('{a"b"}'), "at position 2: unexpected '\"'")
  assertThrows(() => dec('{"a"b}'), 'at position 4: expected delimiter or "}"')
  assertThrows(() => dec('[0:1]{1}'), 'dimension prefix without "="')
  assertThrows(() => dec(''), 'at position 0')
})

test('element decoders run on array elements and errors propagate', () => {
  assertThrows(() => decodeArray(17, '{"\\\\xzz"}'), 'non-hex digit')
  assertThrows(() => decodeArray(20, '{1.5}'), /1\.5|BigInt|convert/i)
})
