/**
 * Value decoding end to end, against a real server: one table with a column of every supported
 * kind of type (scalars, temporal, json/jsonb, bytea, arrays, enum, domains, types without a
 * decoder), checked in `change.values`, in the exact JSON record text, and in the `types` names.
 */
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { JsonText, type PgValue } from '../../src/pg/values/types.ts'
import { CollectingWriter, dropSlot, sqlClient, startPipeline, TEST_URL, uniqueName, waitFor, waitForStreaming } from './support.ts'

/** One column of an expected row: the decoded value and its exact JSON text in the record. */
type Cell = readonly [value: PgValue, json: string]

const json = (text: string): JsonText => new JsonText(text)
const str = (text: string): Cell => [text, JSON.stringify(text)]
const NULL: Cell = [null, 'null']

/** The exact `values` JSON text of a record (the seed format writes `"values":[…],"types":`). */
function rawValues(data: string): string {
  const start = data.indexOf('"values":')
  const end = data.indexOf(',"types":[')
  assert(start >= 0 && end > start, `record has no values list: ${data.slice(0, 200)}`)
  return data.slice(start + '"values":'.length, end)
}

/** Compares every value's class too: deep equality alone would accept `{text}` for a JsonText. */
function assertSameKinds(actual: readonly PgValue[], expected: readonly PgValue[], where: string): void {
  const kind = (v: PgValue): string =>
    v === null ? 'null' : Array.isArray(v) ? 'array' : v instanceof JsonText ? 'json' : v instanceof Uint8Array ? 'bytes' : typeof v
  expected.forEach((e, i) => {
    assertEquals(kind(actual[i] ?? null), kind(e), `${where}, column ${i} kind`)
    if (Array.isArray(e)) assertSameKinds(actual[i] as readonly PgValue[], e, `${where}, column ${i}`)
  })
}

test('decodes every column type exactly, in change.values and in the JSON record', async () => {
  const sql = sqlClient()
  const table = uniqueName('types')
  const mood = uniqueName('mood')
  const posint = uniqueName('posint')
  const label = uniqueName('label')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  let run: { stop: () => Promise<void> } | undefined
  try {
    await sql.unsafe(`
      create type ${mood} as enum ('happy', 'sad', 'it''s "complicated"');
      create domain ${posint} as int check (value > 0);
      create domain ${label} as text;
      create table ${table} (
        id int primary key, b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric,
        t text, vc varchar(10), c3 char(3), j json, jb jsonb, u uuid, by bytea,
        d date, tm time, ttz timetz, ts timestamp, tstz timestamptz, iv interval,
        ai int[], at text[], ai2 int[][], ajb jsonb[], atstz timestamptz[],
        e ${mood}, di ${posint}, dt ${label}, pt point, ip inet, tsv tsvector,
        ae ${mood}[], abx box[], an numeric[]
      )`)
    const writer = new CollectingWriter()
    run = startPipeline({ postgres: { url: TEST_URL, slot, publication, tables: [table], createSlot: true, createPublication: true }, writer })
    await waitForStreaming(sql, slot)

    // One statement: one transaction, four records in row order. timestamptz/timetz literals carry
    // explicit non-UTC offsets; the replication connection prints timestamptz in UTC. (Backslashes
    // are doubled rather than using String.raw: Bun's transpiler escapes non-ASCII in raw templates.)
    await sql.unsafe(`
      insert into ${table} values
      (1, true, 32767, 2147483647, 9223372036854775807, '3.25', 'NaN',
       '12345678901234567890.12345678901234567890',
       'it''s "quoted" \\ back\\slash, ünïcödé ✓ 😀', 'a''b"c\\dé😀', 'ab',
       '{"b": 1,  "a": [1, 2.50, "x\\"y\\\\z"], "big": 123456789012345678901234567890}',
       '{"quote": "say \\"hi\\"", "bs": "C:\\\\dir", "uni": "\\u00e9\\ud83d\\ude00", "big": 123456789012345678901234567890, "neg": -0.000000000000000000001, "arr": [true, null]}',
       'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '\\x00ff10',
       '2024-02-29', '23:59:59.999999', '12:34:56.123456+05:30', '2024-02-29 13:14:15.123456',
       '2024-02-29 13:14:15.123456+02', '1 year 2 months 3 days 04:05:06.789',
       '{1,NULL,-3}', array[null, 'a"b', 'c\\d', 'e,f', '{g}', '', 'NULL', 'null', ' sp ', 'é😀'],
       '{{1,2},{3,4}}', array['{"a": 1}', '[1, "x\\"y"]', 'null', null]::jsonb[],
       array['2024-01-01 00:00:00.000001+00', 'infinity', '-infinity', null]::timestamptz[],
       'it''s "complicated"', 42, 'dom \\ "text"', '(1.5,-2)', '192.168.0.1/24', 'b a a',
       array['sad', 'it''s "complicated"']::${mood}[], '{(1,2),(0,0);(3,4),(2,2)}', '{1.50,NaN,-0.000001,NULL}'),
      (2, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
       null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
       null, null, null),
      (3, false, -32768, -2147483648, -9223372036854775808, 'Infinity', '-Infinity', 'NaN',
       '', '', '', '""', '{}', '00000000-0000-0000-0000-000000000000', '\\x',
       'infinity', '00:00:00', '00:00:00-08', 'infinity', '-infinity', '-1 day -00:00:01.5',
       '{}', '{""}', '[0:1][1:2]={{5,6},{7,8}}', '{}', array['-infinity']::timestamptz[],
       'happy', 1, '', '(0,0)', '::1', '', '{}', '{}', '{}'),
      (4, null, 0, -1, 9007199254740993, 'NaN', 'Infinity', '-0.000000000000000000000000000000000000001',
       '😀🎉', null, 'x', '[]', '"\\\\"', null, null, '0001-01-01', null, null, '2000-01-01 00:00:00',
       '1999-12-31 23:59:59.999999-08', '0', null, '{"\\\\\\\\"}', null, null, null,
       null, null, null, null, null, null, null, null, null)`)

    await waitFor(() => writer.records.length >= 4, 15_000, '4 records')
    await run.stop()

    const enumName = mood
    const expectedFields = [
      'id',
      'b',
      'i2',
      'i4',
      'i8',
      'f4',
      'f8',
      'n',
      't',
      'vc',
      'c3',
      'j',
      'jb',
      'u',
      'by',
      'd',
      'tm',
      'ttz',
      'ts',
      'tstz',
      'iv',
      'ai',
      'at',
      'ai2',
      'ajb',
      'atstz',
      'e',
      'di',
      'dt',
      'pt',
      'ip',
      'tsv',
      'ae',
      'abx',
      'an',
    ]
    const expectedTypes = [
      'integer',
      'boolean',
      'smallint',
      'integer',
      'bigint',
      'real',
      'double precision',
      'numeric',
      'text',
      'character varying',
      'character',
      'json',
      'jsonb',
      'uuid',
      'bytea',
      'date',
      'time without time zone',
      'time with time zone',
      'timestamp without time zone',
      'timestamp with time zone',
      'interval',
      'integer[]',
      'text[]',
      'integer[]',
      'jsonb[]',
      'timestamp with time zone[]',
      enumName,
      'integer',
      'text',
      'point',
      'inet',
      'tsvector',
      `${enumName}[]`,
      'box[]',
      'numeric[]',
    ]

    const jsonText = '{"b": 1,  "a": [1, 2.50, "x\\"y\\\\z"], "big": 123456789012345678901234567890}'
    const jsonbText =
      '{"bs": "C:\\\\dir", "arr": [true, null], "big": 123456789012345678901234567890, "neg": -0.000000000000000000001, "uni": "é😀", "quote": "say \\"hi\\""}'
    const row1: Cell[] = [
      [1, '1'],
      [true, 'true'],
      [32767, '32767'],
      [2147483647, '2147483647'],
      [9223372036854775807n, '9223372036854775807'],
      [3.25, '3.25'],
      [Number.NaN, '"NaN"'],
      str('12345678901234567890.12345678901234567890'),
      str('it\'s "quoted" \\ back\\slash, ünïcödé ✓ 😀'),
      str('a\'b"c\\dé😀'),
      str('ab '),
      [json(jsonText), jsonText],
      [json(jsonbText), jsonbText],
      str('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
      [new Uint8Array([0x00, 0xff, 0x10]), '"\\\\x00ff10"'],
      str('2024-02-29'),
      str('23:59:59.999999'),
      str('12:34:56.123456+05:30'),
      str('2024-02-29T13:14:15.123456'),
      str('2024-02-29T11:14:15.123456Z'),
      str('P1Y2M3DT4H5M6.789S'),
      [[1, null, -3], '[1,null,-3]'],
      [[null, 'a"b', 'c\\d', 'e,f', '{g}', '', 'NULL', 'null', ' sp ', 'é😀'], '[null,"a\\"b","c\\\\d","e,f","{g}","","NULL","null"," sp ","é😀"]'],
      [
        [
          [1, 2],
          [3, 4],
        ],
        '[[1,2],[3,4]]',
      ],
      [[json('{"a": 1}'), json('[1, "x\\"y"]'), json('null'), null], '[{"a": 1},[1, "x\\"y"],null,null]'],
      [['2024-01-01T00:00:00.000001Z', 'infinity', '-infinity', null], '["2024-01-01T00:00:00.000001Z","infinity","-infinity",null]'],
      str('it\'s "complicated"'),
      [42, '42'],
      str('dom \\ "text"'),
      str('(1.5,-2)'),
      str('192.168.0.1/24'),
      str("'a' 'b'"),
      [['sad', 'it\'s "complicated"'], '["sad","it\'s \\"complicated\\""]'],
      // box[] is the one built-in array whose delimiter is ';': its elements contain commas.
      [['(1,2),(0,0)', '(3,4),(2,2)'], '["(1,2),(0,0)","(3,4),(2,2)"]'],
      [['1.50', 'NaN', '-0.000001', null], '["1.50","NaN","-0.000001",null]'],
    ]
    const row2: Cell[] = [[2, '2'], ...expectedFields.slice(1).map(() => NULL)]
    const row3: Cell[] = [
      [3, '3'],
      [false, 'false'],
      [-32768, '-32768'],
      [-2147483648, '-2147483648'],
      [-9223372036854775808n, '-9223372036854775808'],
      [Number.POSITIVE_INFINITY, '"Infinity"'],
      [Number.NEGATIVE_INFINITY, '"-Infinity"'],
      str('NaN'),
      str(''),
      str(''),
      str('   '),
      [json('""'), '""'],
      [json('{}'), '{}'],
      str('00000000-0000-0000-0000-000000000000'),
      [new Uint8Array([]), '"\\\\x"'],
      str('infinity'),
      str('00:00:00'),
      str('00:00:00-08:00'),
      str('infinity'),
      str('-infinity'),
      str('P-1DT-1.5S'),
      [[], '[]'],
      [[''], '[""]'],
      [
        [
          [5, 6],
          [7, 8],
        ],
        '[[5,6],[7,8]]',
      ],
      [[], '[]'],
      [['-infinity'], '["-infinity"]'],
      str('happy'),
      [1, '1'],
      str(''),
      str('(0,0)'),
      str('::1'),
      str(''),
      [[], '[]'],
      [[], '[]'],
      [[], '[]'],
    ]
    const row4: Cell[] = [
      [4, '4'],
      NULL,
      [0, '0'],
      [-1, '-1'],
      [9007199254740993n, '9007199254740993'],
      [Number.NaN, '"NaN"'],
      [Number.POSITIVE_INFINITY, '"Infinity"'],
      str('-0.000000000000000000000000000000000000001'),
      str('😀🎉'),
      NULL,
      str('x  '),
      [json('[]'), '[]'],
      [json('"\\\\"'), '"\\\\"'],
      NULL,
      NULL,
      str('0001-01-01'),
      NULL,
      NULL,
      str('2000-01-01T00:00:00'),
      str('2000-01-01T07:59:59.999999Z'),
      str('PT0S'),
      NULL,
      [['\\\\'], '["\\\\\\\\"]'],
      ...Array.from({ length: 12 }, () => NULL),
    ]
    const rows = [row1, row2, row3, row4]

    assertEquals(writer.records.length, 4, 'record count')
    for (const [r, expected] of rows.entries()) {
      const record = writer.records[r]!
      const where = `row ${r + 1}`
      assertEquals(expected.length, expectedFields.length, `${where}: test table width`)
      assertEquals(record.change.operation, 'INSERT', `${where} operation`)
      assertEquals(record.change.fields, expectedFields, `${where} fields`)
      assertEquals(record.change.types, expectedTypes, `${where} types`)
      const values = record.change.values
      for (const [i, [value]] of expected.entries()) assertEquals(values[i], value, `${where}, change.values of ${expectedFields[i]}`)
      assertSameKinds(
        values,
        expected.map(([v]) => v),
        where,
      )
      // The record text, byte for byte: bigints keep their digits, json/jsonb is embedded verbatim.
      const text = new TextDecoder().decode(record.data)
      assertEquals(rawValues(text), `[${expected.map(([, text]) => text).join(',')}]`, `${where}, raw values JSON`)
      const parsed = JSON.parse(text) as Record<string, unknown>
      assertEquals(parsed.fields, expectedFields, `${where} record fields`)
      assertEquals(parsed.types, expectedTypes, `${where} record types`)
      assertEquals(parsed.table_name, `public.${table}`, `${where} table_name`)
      assertEquals(parsed.operation, 'INSERT', `${where} record operation`)
    }

    // Spot checks through a plain JSON parser, as a consumer sees the record.
    const [p1, p2, p3] = writer.parsed().map((r) => r.values as unknown[])
    assertEquals(p1![12], { bs: 'C:\\dir', arr: [true, null], big: 123456789012345678901234567890, neg: -1e-21, uni: 'é😀', quote: 'say "hi"' }, 'jsonb parsed')
    assertEquals(p1![22], [null, 'a"b', 'c\\d', 'e,f', '{g}', '', 'NULL', 'null', ' sp ', 'é😀'], 'text[] parsed')
    assertEquals(p1![24], [{ a: 1 }, [1, 'x"y'], null, null], 'jsonb[] parsed')
    assertEquals(p1![14], '\\x00ff10', 'bytea parsed')
    assertEquals(p2, [2, ...expectedFields.slice(1).map(() => null)], 'all-NULL row parsed')
    assertEquals(p3![6], '-Infinity', 'float8 -Infinity parsed')
    // int8 extremes: bigint in change.values, bare digits in the record.
    assert(typeof writer.records[0]!.change.values[4] === 'bigint' && typeof writer.records[2]!.change.values[4] === 'bigint', 'int8 values are bigint')
    const [first, , third] = writer.records.map((r) => new TextDecoder().decode(r.data))
    assert(first!.includes(',9223372036854775807,') && third!.includes(',-9223372036854775808,'), 'int8 extremes as bare digits')
    assert(first!.includes('"big": 123456789012345678901234567890'), 'jsonb number beyond 2^53 keeps its digits')
  } finally {
    // Also after a failure: stop the pipeline so that the slot can go, then drop everything.
    await run?.stop().catch(() => {})
    await dropSlot(sql, slot)
    await sql.unsafe(
      `drop table if exists ${table}; drop publication if exists ${publication}; drop type if exists ${mood}; drop domain if exists ${posint}; ` +
        `drop domain if exists ${label}`,
    )
    await sql.end()
  }
})

test('int2vector and oidvector (and their arrays, and a domain over one) decode as arrays of numbers', async () => {
  const sql = sqlClient()
  const table = uniqueName('vectors')
  const keys = uniqueName('keys')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  let run: ReturnType<typeof startPipeline> | undefined
  try {
    await sql.unsafe(`
      create domain ${keys} as int2vector;
      create table ${table} (id int primary key, iv int2vector, ov oidvector, aiv int2vector[], aov oidvector[], dk ${keys})`)
    const writer = new CollectingWriter()
    run = startPipeline({ postgres: { url: TEST_URL, slot, publication, tables: [table], createSlot: true, createPublication: true }, writer })
    let failure: unknown
    run.done.catch((error: unknown) => (failure = error))
    await waitForStreaming(sql, slot)
    await sql.unsafe(`
      insert into ${table} values
      (1, '1 2 -3'::int2vector, '23 25 4294967295'::oidvector, array['1 2', '32767']::int2vector[], array['', '26']::oidvector[], '-32768 0'),
      (2, ''::int2vector, ''::oidvector, '{}', array[null, '7']::oidvector[], ''),
      (3, null, null, null, null, null)`)
    await waitFor(
      () => {
        if (failure) throw failure
        return writer.records.length >= 3
      },
      15_000,
      '3 records',
    )
    await run.stop()

    const expected: Cell[][] = [
      [
        [1, '1'],
        [[1, 2, -3], '[1,2,-3]'],
        [[23, 25, 4294967295], '[23,25,4294967295]'],
        [[[1, 2], [32767]], '[[1,2],[32767]]'],
        [[[], [26]], '[[],[26]]'],
        [[-32768, 0], '[-32768,0]'],
      ],
      [
        [2, '2'],
        [[], '[]'],
        [[], '[]'],
        [[], '[]'],
        [[null, [7]], '[null,[7]]'],
        [[], '[]'],
      ],
      [[3, '3'], NULL, NULL, NULL, NULL, NULL],
    ]
    for (const [r, cells] of expected.entries()) {
      const record = writer.records[r]!
      assertEquals(record.change.types, ['integer', 'int2vector', 'oidvector', 'int2vector[]', 'oidvector[]', 'int2vector'], `row ${r + 1} types`)
      assertEquals(
        record.change.values,
        cells.map(([value]) => value),
        `row ${r + 1} change.values`,
      )
      assertEquals(rawValues(new TextDecoder().decode(record.data)), `[${cells.map(([, text]) => text).join(',')}]`, `row ${r + 1} raw values JSON`)
    }
  } finally {
    await run?.stop().catch(() => {})
    await dropSlot(sql, slot)
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${publication}; drop domain if exists ${keys}`)
    await sql.end()
  }
})
