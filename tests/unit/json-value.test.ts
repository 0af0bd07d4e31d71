import { test } from '../harness.ts'
import { assertEquals } from '../assert.ts'
import { encodeJsonValue } from '../../src/change/formats/json-value.ts'
import { decoderFor } from '../../src/pg/values/decode.ts'
import { JsonText, type PgValue } from '../../src/pg/values/types.ts'

/** Checks the exact text and, where JSON can represent the value, that it parses back to `parsed`. */
function check(value: PgValue, text: string, parsed?: unknown): void {
  const encoded = encodeJsonValue(value)
  assertEquals(encoded, text, 'encoded text')
  if (parsed !== undefined) assertEquals(JSON.parse(encoded), parsed, 'parsed back')
}

test('null and booleans', () => {
  check(null, 'null', null)
  check(true, 'true', true)
  check(false, 'false', false)
})

test('finite numbers use the shortest JS form', () => {
  check(0, '0', 0)
  check(-0, '0', 0)
  check(42, '42', 42)
  check(-2147483648, '-2147483648', -2147483648)
  check(0.1, '0.1', 0.1)
  check(1.10000002, '1.10000002', 1.10000002)
  check(1e100, '1e+100', 1e100)
  check(-1.5e-7, '-1.5e-7', -1.5e-7)
  check(Number.MAX_VALUE, '1.7976931348623157e+308', Number.MAX_VALUE)
})

test('NaN and infinities become strings', () => {
  check(NaN, '"NaN"', 'NaN')
  check(Infinity, '"Infinity"', 'Infinity')
  check(-Infinity, '"-Infinity"', '-Infinity')
})

test('bigint is emitted as exact bare digits', () => {
  check(9223372036854775807n, '9223372036854775807')
  check(-9223372036854775808n, '-9223372036854775808')
  check(0n, '0', 0)
  check(12n, '12', 12)
})

test('strings are JSON-escaped', () => {
  check('', '""', '')
  check('plain', '"plain"', 'plain')
  check('say "hi"\\\n\t', '"say \\"hi\\"\\\\\\n\\t"', 'say "hi"\\\n\t')
  check('\u0000\u001f', '"\\u0000\\u001f"', '\u0000\u001f')
  check('☃ 𝄞 日本', '"☃ 𝄞 日本"', '☃ 𝄞 日本')
  check('1234567890123456789012345678901234567890.5', '"1234567890123456789012345678901234567890.5"')
})

test('strings are escaped exactly as JSON.stringify escapes them', () => {
  const samples = ['a\u007fb', '\u2028\u2029', '\ud800', 'x\udfffy', '\ud83d\ude00', 'é', '/', '<\/script>', '\u001f\u0020', 'tab\there']
  for (const sample of samples) check(sample, JSON.stringify(sample))
})

test('bytes become the PostgreSQL hex text as a JSON string', () => {
  check(new Uint8Array([0, 255]), '"\\\\x00ff"', '\\x00ff')
  check(new Uint8Array([]), '"\\\\x"', '\\x')
  check(new Uint8Array([0x0a, 0xbc, 0xde, 0xf1]), '"\\\\x0abcdef1"', '\\x0abcdef1')
  const all = new Uint8Array(Array.from({ length: 256 }, (_, i) => i))
  const hex = Array.from(all, (b) => b.toString(16).padStart(2, '0')).join('')
  check(all, `"\\\\x${hex}"`, `\\x${hex}`)
})

test('JsonText is embedded verbatim', () => {
  check(new JsonText('{"a": "q\\"uote", "n": 123456789012345678901234567890}'), '{"a": "q\\"uote", "n": 123456789012345678901234567890}')
  check(new JsonText('{ "b" :2,"a":1 }'), '{ "b" :2,"a":1 }', { b: 2, a: 1 })
  check(new JsonText('"just a string"'), '"just a string"', 'just a string')
  check(new JsonText('null'), 'null', null)
})

test('arrays encode recursively, nested and with nulls', () => {
  check([], '[]', [])
  check([1, null, 'a'], '[1,null,"a"]', [1, null, 'a'])
  check(
    [
      [1, 2],
      [3, 4],
    ],
    '[[1,2],[3,4]]',
    [
      [1, 2],
      [3, 4],
    ],
  )
  check([[[true]], [[]]], '[[[true]],[[]]]', [[[true]], [[]]])
  check([9223372036854775807n, NaN, new Uint8Array([1])], '[9223372036854775807,"NaN","\\\\x01"]')
  check([new JsonText('{"k":[1,2]}'), new JsonText('"x"')], '[{"k":[1,2]},"x"]', [{ k: [1, 2] }, 'x'])
})

test('decoded PostgreSQL values encode end to end', () => {
  const jsonbArray = decoderFor({
    oid: 3807,
    name: 'jsonb[]',
    scalarOid: 0,
    delimiter: ',',
    element: { oid: 3802, name: 'jsonb', scalarOid: 3802, delimiter: ',' },
  })('{"{\\"a\\": \\"b,c\\"}",NULL}')
  check(jsonbArray, '[{"a": "b,c"},null]', [{ a: 'b,c' }, null])
  const int8Array = decoderFor({
    oid: 1016,
    name: 'bigint[]',
    scalarOid: 0,
    delimiter: ',',
    element: { oid: 20, name: 'bigint', scalarOid: 20, delimiter: ',' },
  })('{{-9223372036854775808},{1}}')
  check(int8Array, '[[-9223372036854775808],[1]]')
})
