/**
 * @module SeedFormat's byte path (records written from the server's tuple bytes) against its
 * value path (records written from decoded values): the same change must give the same bytes,
 * for every way a type's text becomes JSON, including the values that fall back to decoding.
 */
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import type { Change } from '../../src/change/change.ts'
import { SeedFormat } from '../../src/change/formats/seed.ts'
import type { RelationSchema } from '../../src/change/relations.ts'
import { RowChange } from '../../src/change/row-change.ts'
import { Tuple } from '../../src/pg/pgoutput/tuple.ts'
import { decoderFor } from '../../src/pg/values/decode.ts'
import type { PgType, PgValue } from '../../src/pg/values/types.ts'

const scalar = (oid: number, name: string): PgType => ({ oid, name, scalarOid: oid, delimiter: ',' })
const INT4 = scalar(23, 'integer')
const TYPES: readonly PgType[] = [
  scalar(20, 'bigint'),
  INT4,
  scalar(21, 'smallint'),
  scalar(26, 'oid'),
  scalar(1700, 'numeric'),
  scalar(25, 'text'),
  scalar(1043, 'character varying'),
  scalar(2950, 'uuid'),
  scalar(1082, 'date'),
  scalar(16, 'boolean'),
  scalar(1114, 'timestamp without time zone'),
  scalar(1184, 'timestamp with time zone'),
  scalar(1266, 'time with time zone'),
  scalar(114, 'json'),
  scalar(3802, 'jsonb'),
  scalar(17, 'bytea'),
  scalar(700, 'real'),
  scalar(701, 'double precision'),
  { oid: 1007, name: 'integer[]', scalarOid: 0, element: INT4, delimiter: ',' },
  { oid: 16_500, name: 'public.mood', scalarOid: 25, delimiter: ',' },
  scalar(22, 'int2vector'),
  scalar(30, 'oidvector'),
  { oid: 1006, name: 'int2vector[]', scalarOid: 0, element: scalar(22, 'int2vector'), delimiter: ',' },
]

/** Texts the server may send for each type: ordinary, edge, escaped, non-ASCII, and longer than the byte loops take. */
const TEXTS: readonly (readonly (string | null)[])[] = [
  ['1', '-9223372036854775808', '9223372036854775807', '0', null],
  ['42', '-2147483648', null],
  ['7', '-32768'],
  ['4294967295'],
  ['123.45', 'NaN', '-0.000001', 'Infinity', '9'.repeat(80)],
  [
    'plain',
    '',
    'say "hi"',
    'back\\slash',
    'tab\tnew\nline\r',
    '\u0001\u001f\u007f',
    'ünïcödé ☃ 𝄞',
    'x'.repeat(64),
    'y'.repeat(65) + '"',
    'é'.repeat(40),
    '\uFEFFbom',
  ],
  ['varchar "q"', 'a'.repeat(200)],
  ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
  ['2026-11-25', 'infinity', '0044-03-15 BC'],
  ['t', 'f'],
  ['2026-11-25 01:02:03.456789', '2026-11-25 01:02:03', 'infinity', '-infinity', '0044-03-15 12:00:00 BC', '12026-01-01 00:00:00'],
  [
    '2026-11-25 01:02:03.456789+00',
    '2026-11-25 01:02:03+00',
    'infinity',
    '2026-11-25 01:02:03+05:30',
    '0044-03-15 12:00:00+00 BC',
    '1900-01-01 00:00:00+00:09:21',
  ],
  ['01:02:03+00', '01:02:03.5-08', '01:02:03+05:30'],
  ['{"a": [1, 2.50]}', '[]', '"é"', `{"long": "${'z'.repeat(100)}"}`, '123456789012345678901234567890'],
  ['{"a": [1, 2.5]}', '{"u": "日本"}', 'null'],
  ['\\x', '\\x00ff10', `\\x${'ab'.repeat(100)}`],
  ['1.5', 'NaN', '-Infinity', '3.4028235e+38'],
  ['0.1', '1e-07', '1.7976931348623157e+308', '-0'],
  ['{1,2,3}', '{}', '{NULL,4}'],
  ['happy', 'sad "very"'],
  ['1 2 -3', '', '-32768', '32767 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30', null],
  ['23 25 4294967295', '', '0', '26'],
  ['{"1 2",3}', '{}', '{"",NULL}'],
]

const COLUMNS = TYPES.map((type, i) => ({ name: `c${i}`, type, decode: decoderFor(type), isReplicaIdentity: i === 0 }))
const RELATION: RelationSchema = {
  oid: 16_384,
  schema: 'public',
  name: 'all_types',
  qualifiedName: 'public.all_types',
  replicaIdentity: 'd',
  columns: COLUMNS,
  fields: COLUMNS.map((c) => c.name),
  types: COLUMNS.map((c) => c.type.name),
  keyIndexes: [0],
}
const POSITION = { xid: 731, commitLsn: 0x16b3748n, commitLsnText: '0/16B3748', commitTime: 817_000_000_123_456n }
const NEXT_POSITION = { xid: 732, commitLsn: 0x1_0000_0000n, commitLsnText: '1/0', commitTime: null }

/** TupleData bytes for `texts` ('t' columns, 'n' for null), behind a few bytes of other payload. */
function tupleOf(texts: readonly (string | null)[]): Tuple {
  const utf8 = new TextEncoder()
  const parts: number[] = [0x49, 0, 0, 0, 1, 0x4e, texts.length >> 8, texts.length & 0xff]
  for (const text of texts) {
    if (text === null) parts.push(0x6e)
    else {
      const bytes = utf8.encode(text)
      parts.push(0x74, (bytes.length >>> 24) & 0xff, (bytes.length >>> 16) & 0xff, (bytes.length >>> 8) & 0xff, bytes.length & 0xff, ...bytes)
    }
  }
  const { tuple, end } = Tuple.read(new Uint8Array(parts), 6)
  assertEquals(end, parts.length, 'tuple read to its end')
  return tuple
}

/** The same change with decoded values and no tuple: what the value path encodes. */
function fromValues(change: RowChange, values: readonly PgValue[]): Change {
  return {
    id: change.id,
    operation: change.operation,
    relation: change.relation,
    fields: change.fields,
    types: change.types,
    values,
    unchangedToastFields: undefined,
    old: change.old,
    transactionId: change.transactionId,
    commitLsn: change.commitLsn,
    commitTime: change.commitTime,
    ordinal: change.ordinal,
    truncate: undefined,
    message: undefined,
  }
}

/** Rows that put each listed text of each column in turn (the other columns cycle through theirs). */
function rows(): (string | null)[][] {
  const longest = Math.max(...TEXTS.map((t) => t.length))
  return Array.from({ length: longest }, (_, r) => TEXTS.map((texts) => texts[r % texts.length]!))
}

test('seed format: a row encoded from its tuple bytes equals the row encoded from its decoded values, for every type', () => {
  const fromBytes = new SeedFormat()
  const fromDecoded = new SeedFormat()
  const text = new TextDecoder()
  rows().forEach((texts, r) => {
    const tuple = tupleOf(texts)
    // Operations, transactions and old values vary from row to row, so no cached fragment may leak into the next row.
    const old = r % 3 === 2 ? { kind: 'key' as const, fields: ['c0'], types: ['bigint'], values: [BigInt(r)] } : undefined
    const change = new RowChange(r % 2 === 0 ? 'INSERT' : 'UPDATE', RELATION, tuple, false, old, r % 4 < 2 ? POSITION : NEXT_POSITION, r)
    assert(change.tuple === tuple, 'a complete tuple is kept for the byte path')
    const expected = text.decode(fromDecoded.encode(fromValues(change, change.values)))
    assertEquals(text.decode(fromBytes.encode(change)), expected, `row ${r}: ${JSON.stringify(texts)}`)
    JSON.parse(expected)
  })
})

test('seed format: records stay intact while later records fill and replace the output slab', () => {
  const format = new SeedFormat()
  const big = 'w'.repeat(40_000)
  const records: { bytes: Uint8Array; text: string }[] = []
  for (let r = 0; r < 40; r++) {
    const texts = rows()[r % rows().length]!.slice()
    texts[5] = `${r}:${big}` // a 40 kB text value: seven records fill a 256 kB slab
    const bytes = format.encode(new RowChange('INSERT', RELATION, tupleOf(texts), false, undefined, POSITION, r))
    records.push({ bytes, text: new TextDecoder().decode(bytes) })
  }
  for (const [r, record] of records.entries()) {
    assertEquals(new TextDecoder().decode(record.bytes), record.text, `record ${r} unchanged after later ones`)
    assertEquals((JSON.parse(record.text) as { values: unknown[] }).values[5], `${r}:${big}`, `record ${r} holds its own value`)
  }
})

test('row change: values are decoded on first read, from the tuple; partial tuples keep only what was sent', () => {
  const change = new RowChange('INSERT', RELATION, tupleOf(rows()[0]!), false, undefined, POSITION, 3)
  assertEquals(change.id, '0/16B3748:3')
  assertEquals(change.values[0], 1n)
  assertEquals(change.values[9], true)
  assert(change.values === change.values, 'decoded once')
  const key = new RowChange('DELETE', RELATION, tupleOf(TEXTS.map((_, i) => (i === 0 ? '5' : null))), true, undefined, POSITION, 0)
  assertEquals(key.tuple, undefined, 'a key-only tuple has no byte path')
  assertEquals(key.fields, ['c0'])
  assertEquals(key.values, [5n])
})
