/** COPY text output into tuples: escapes, NULLs, and chunks that split the text at every byte. */
import { test } from '../harness.ts'
import { assertEquals, assertThrows } from '../assert.ts'
import { CopyTextParser, type CopyRow } from '../../src/snapshot/copy-text.ts'
import { Tuple, type TupleValue } from '../../src/pg/pgoutput/tuple.ts'

const utf8 = new TextEncoder()

/** Three columns; the key is columns 0 and 2. Each escape form COPY's text format defines, and some it only reads. */
const TEXT = [
  'plain\t\\N\tk1\n',
  'tab\\there\tnew\\nline\\r\\\\back\tk\\\\2\n',
  "b\\bf\\fv\\v\t\\\\N\tquote's\n",
  'octal \\101\\61\\0061\\7\thex \\x41\\x4\\x4a2\\xZ\tother \\q\\"\n',
  '\t\\N\t\u00e9\u20ac\u{1f600}\n',
]

const EXPECTED: TupleValue[][] = [
  ['plain', null, 'k1'],
  ['tab\there', 'new\nline\r\\back', 'k\\2'],
  ['b\bf\fv\v', '\\N', "quote's"],
  ['octal A1\x061\x07', 'hex A\x04J2xZ', 'other q"'],
  ['', null, '\u00e9\u20ac\u{1f600}'],
]

function parseIn(pieces: readonly Uint8Array[]): CopyRow[] {
  const parser = new CopyTextParser(3, [0, 2])
  const rows = pieces.flatMap((piece) => parser.push(piece))
  parser.end()
  return rows
}

function check(rows: readonly CopyRow[], what: string): void {
  assertEquals(
    rows.map((r) => r.tuple.values()),
    EXPECTED,
    what,
  )
  assertEquals(
    rows.map((r) => r.key),
    EXPECTED.map((v) => [v[0] as string, v[2] as string]),
    `${what}: keys`,
  )
  for (const row of rows) {
    // The bytes are a TupleData as pgoutput sends it: Tuple.read walks them to their end.
    const { tuple, end } = Tuple.read(row.tuple.bytes, 0)
    assertEquals([end, tuple.columnCount, tuple.values()], [row.tuple.bytes.length, 3, row.tuple.values()], what)
  }
}

test('COPY text: escapes, NULL and \\\\N, octal and hex bytes, multi-byte UTF-8, in one chunk', () => {
  check(parseIn([utf8.encode(TEXT.join(''))]), 'one chunk')
})

test('COPY text: the same rows from two chunks split at every byte offset, and from one-byte chunks', () => {
  const all = utf8.encode(TEXT.join(''))
  for (let cut = 0; cut <= all.length; cut++) check(parseIn([all.subarray(0, cut), all.subarray(cut)]), `split at ${cut}`)
  check(parseIn([...all].map((b) => Uint8Array.of(b))), 'one byte at a time')
  // Three pieces, the middle one inside a row and without a newline.
  for (let cut = 1; cut + 3 <= all.length; cut += 7)
    check(parseIn([all.subarray(0, cut), all.subarray(cut, cut + 3), all.subarray(cut + 3)]), `pieces at ${cut}`)
})

test('COPY text: tuples returned earlier keep their values while later chunks are parsed', () => {
  const parser = new CopyTextParser(3, [0])
  const first = parser.push(utf8.encode('a\tb\tc\nd\te'))
  const before = first.map((r) => r.tuple.values())
  const second = parser.push(utf8.encode('\tf\nxxxxxxxx\tyyyyyyyy\tzzzzzzzz\n'))
  parser.end()
  assertEquals(
    first.map((r) => r.tuple.values()),
    before,
  )
  assertEquals(
    second.map((r) => r.tuple.values()),
    [
      ['d', 'e', 'f'],
      ['xxxxxxxx', 'yyyyyyyy', 'zzzzzzzz'],
    ],
  )
})

test('COPY text: a row with another column count, or output ending inside a row, is an error', () => {
  assertThrows(() => new CopyTextParser(3, []).push(utf8.encode('a\tb\n')), 'a COPY row has 2 columns, the table 3')
  const parser = new CopyTextParser(2, [])
  parser.push(utf8.encode('a\tb\na'))
  assertThrows(() => parser.end(), 'COPY output ended inside a row')
  assertThrows(() => new CopyTextParser(2, [1]).push(utf8.encode('a\t\\N\n')), 'key column 2 of a snapshot row is NULL')
})
