/** @module Unit tests for the pgoutput decoder and its byte reader, on hand-built payloads. */
import { test } from '../harness.ts'
import { assert, assertEquals, assertThrows } from '../assert.ts'
import { ByteReader } from '../../src/pg/pgoutput/byte-reader.ts'
import { DecodeError, PgoutputDecoder } from '../../src/pg/pgoutput/decode.ts'
import { Tuple, UNCHANGED_TOAST, type PgoutputMessage, type TupleValue } from '../../src/pg/pgoutput/messages.ts'

/** Builds payloads the way the server writes them: big-endian integers, NUL-terminated strings. */
class Enc {
  private readonly parts: number[] = []
  private readonly utf8 = new TextEncoder()

  tag(char: string): this {
    return this.u8(char.charCodeAt(0))
  }

  u8(n: number): this {
    this.parts.push(n & 0xff)
    return this
  }

  i16(n: number): this {
    return this.u8(n >> 8).u8(n)
  }

  i32(n: number): this {
    return this.u8(n >>> 24)
      .u8(n >>> 16)
      .u8(n >>> 8)
      .u8(n)
  }

  i64(n: bigint): this {
    const v = BigInt.asUintN(64, n)
    return this.i32(Number(v >> 32n)).i32(Number(v & 0xffffffffn))
  }

  raw(bytes: ArrayLike<number>): this {
    for (let i = 0; i < bytes.length; i++) this.u8(bytes[i]!)
    return this
  }

  cstring(text: string): this {
    return this.raw(this.utf8.encode(text)).u8(0)
  }

  /** TupleData: Int16 count, then 'n', 'u', 't' + Int32 length + text, or 'b' + Int32 length + bytes. */
  tuple(values: readonly TupleValue[]): this {
    this.i16(values.length)
    for (const v of values) {
      if (v === null) this.tag('n')
      else if (v === UNCHANGED_TOAST) this.tag('u')
      else if (typeof v === 'string') {
        const bytes = this.utf8.encode(v)
        this.tag('t').i32(bytes.length).raw(bytes)
      } else this.tag('b').i32(v.length).raw(v)
    }
    return this
  }

  build(): Uint8Array {
    return Uint8Array.from(this.parts)
  }
}

const enc = (): Enc => new Enc()
const decodeOne = (payload: Uint8Array): PgoutputMessage => new PgoutputDecoder().decode(payload)

test('pgoutput: Begin', () => {
  const payload = enc().tag('B').i64(0x16b374d848n).i64(757_382_400_123_456n).i32(0xfffffffe).build()
  assertEquals(plain(decodeOne(payload)), { tag: 'Begin', finalLsn: 0x16b374d848n, commitTime: 757_382_400_123_456n, xid: 0xfffffffe })
})

test('pgoutput: Commit keeps flags, both LSNs and a signed timestamp', () => {
  const payload = enc().tag('C').u8(0).i64(0x1_0000_0010n).i64(0xffff_ffff_ffff_fff0n).i64(-5n).build()
  assertEquals(plain(decodeOne(payload)), { tag: 'Commit', flags: 0, commitLsn: 0x1_0000_0010n, endLsn: 0xffff_ffff_ffff_fff0n, commitTime: -5n })
})

test('pgoutput: Origin', () => {
  const payload = enc().tag('O').i64(0xabcdefn).cstring('pg_16389').build()
  assertEquals(plain(decodeOne(payload)), { tag: 'Origin', lsn: 0xabcdefn, name: 'pg_16389' })
})

test('pgoutput: Relation with key flags, type modifiers and unicode names', () => {
  const payload = enc()
    .tag('R')
    .i32(16_390)
    .cstring('public')
    .cstring('größe_表')
    .tag('f')
    .i16(3)
    .u8(1)
    .cstring('id')
    .i32(23)
    .i32(-1)
    .u8(0)
    .cstring('naïve name')
    .i32(1043)
    .i32(259)
    .u8(0)
    .cstring('')
    .i32(0xfffffff0)
    .i32(0)
    .build()
  assertEquals(plain(decodeOne(payload)), {
    tag: 'Relation',
    relationOid: 16_390,
    namespace: 'public',
    relationName: 'größe_表',
    replicaIdentity: 'f',
    columns: [
      { isKey: true, name: 'id', typeOid: 23, typeModifier: -1 },
      { isKey: false, name: 'naïve name', typeOid: 1043, typeModifier: 259 },
      { isKey: false, name: '', typeOid: 0xfffffff0, typeModifier: 0 },
    ],
  })
})

test('pgoutput: Relation without columns', () => {
  const payload = enc().tag('R').i32(7).cstring('s').cstring('t').tag('n').i16(0).build()
  assertEquals(plain(decodeOne(payload)), { tag: 'Relation', relationOid: 7, namespace: 's', relationName: 't', replicaIdentity: 'n', columns: [] })
})

test('pgoutput: Type', () => {
  const payload = enc().tag('Y').i32(16_400).cstring('public').cstring('mood').build()
  assertEquals(plain(decodeOne(payload)), { tag: 'Type', typeOid: 16_400, namespace: 'public', typeName: 'mood' })
})

test('pgoutput: Insert with all four column kinds', () => {
  const binary = new Uint8Array([0, 1, 0xff, 0x80])
  const values: TupleValue[] = ['42', null, UNCHANGED_TOAST, binary, '']
  const payload = enc().tag('I').i32(16_390).tag('N').tuple(values).build()
  const message = decodeOne(payload)
  assertEquals(plain(message), { tag: 'Insert', relationOid: 16_390, newTuple: values })
  assert(message.tag === 'Insert')
  assert(message.newTuple.values()[2] === UNCHANGED_TOAST, 'unchanged TOAST is the shared symbol')
})

test('pgoutput: text values decode as UTF-8, short and long, ASCII and not', () => {
  const texts = [
    '',
    'a',
    'abcdefghij',
    'abcdefghijk',
    'é',
    'abcdefghé',
    'x'.repeat(1000),
    'ünïcödé ' + 'ß'.repeat(50),
    '日本語',
    '🐘',
    'ascii then 🐘',
    '\uFEFFkeeps its BOM',
    '\uFEFF',
    'nul\u0000inside',
  ]
  const payload = enc().tag('I').i32(1).tag('N').tuple(texts).build()
  const message = decodeOne(payload)
  assert(message.tag === 'Insert')
  assertEquals(message.newTuple.values(), texts)
})

test('pgoutput: binary values are views of the payload, not copies', () => {
  const payload = enc()
    .tag('I')
    .i32(1)
    .tag('N')
    .tuple([new Uint8Array([9, 8, 7]), new Uint8Array(0)])
    .build()
  const message = decodeOne(payload)
  assert(message.tag === 'Insert')
  const value = message.newTuple.values()[0]
  assert(value instanceof Uint8Array)
  assertEquals(value, new Uint8Array([9, 8, 7]))
  assert(value.buffer === payload.buffer, 'shares the payload buffer')
  payload[payload.length - 3 - 5] = 99 // the first binary byte: 5 bytes ('b' + length) of the empty value follow it
  assertEquals(value[0], 99)
  assertEquals(message.newTuple.values()[1], new Uint8Array(0))
})

test('pgoutput: Update without an old tuple', () => {
  const payload = enc().tag('U').i32(5).tag('N').tuple(['1', 'new']).build()
  assertEquals(plain(decodeOne(payload)), { tag: 'Update', relationOid: 5, newTuple: ['1', 'new'] })
})

test("pgoutput: Update with the old key ('K')", () => {
  const payload = enc().tag('U').i32(5).tag('K').tuple(['1', null]).tag('N').tuple(['2', UNCHANGED_TOAST]).build()
  assertEquals(plain(decodeOne(payload)), { tag: 'Update', relationOid: 5, oldKind: 'K', oldTuple: ['1', null], newTuple: ['2', UNCHANGED_TOAST] })
})

test("pgoutput: Update with the old row ('O')", () => {
  const payload = enc().tag('U').i32(5).tag('O').tuple(['1', 'old']).tag('N').tuple(['1', 'new']).build()
  assertEquals(plain(decodeOne(payload)), { tag: 'Update', relationOid: 5, oldKind: 'O', oldTuple: ['1', 'old'], newTuple: ['1', 'new'] })
})

test("pgoutput: Delete with 'K' and with 'O'", () => {
  const byKey = enc().tag('D').i32(6).tag('K').tuple(['1', null]).build()
  assertEquals(plain(decodeOne(byKey)), { tag: 'Delete', relationOid: 6, oldKind: 'K', oldTuple: ['1', null] })
  const byRow = enc().tag('D').i32(6).tag('O').tuple(['1', 'gone']).build()
  assertEquals(plain(decodeOne(byRow)), { tag: 'Delete', relationOid: 6, oldKind: 'O', oldTuple: ['1', 'gone'] })
})

test('pgoutput: Truncate option bits', () => {
  const cases: Array<[number, boolean, boolean]> = [
    [0, false, false],
    [1, true, false],
    [2, false, true],
    [3, true, true],
  ]
  for (const [options, cascade, restartIdentity] of cases) {
    const payload = enc().tag('T').i32(3).u8(options).i32(10).i32(11).i32(0xfffffffd).build()
    assertEquals(plain(decodeOne(payload)), { tag: 'Truncate', cascade, restartIdentity, relationOids: [10, 11, 0xfffffffd] }, `options ${options}`)
  }
})

test('pgoutput: Message, transactional or not, with its content bytes', () => {
  const content = new TextEncoder().encode('{"hello":"wörld"}')
  const transactional = enc().tag('M').u8(1).i64(0x2_0000_0000n).cstring('my-prefix').i32(content.length).raw(content).build()
  assertEquals(plain(decodeOne(transactional)), { tag: 'Message', transactional: true, lsn: 0x2_0000_0000n, prefix: 'my-prefix', content })
  const nonTransactional = enc().tag('M').u8(0).i64(1n).cstring('').i32(0).build()
  assertEquals(plain(decodeOne(nonTransactional)), { tag: 'Message', transactional: false, lsn: 1n, prefix: '', content: new Uint8Array(0) })
})

test('pgoutput: streamed transaction: data messages carry streamXid only between S and E', () => {
  const decoder = new PgoutputDecoder()
  const xid = 0x8000_0001
  assertEquals(plain(decoder.decode(enc().tag('S').i32(xid).u8(1).build())), { tag: 'StreamStart', xid, firstSegment: true })
  assert(decoder.streaming)
  const inStream: Array<[Uint8Array, { readonly tag: string; readonly [field: string]: unknown }]> = [
    [
      enc().tag('R').i32(xid).i32(9).cstring('public').cstring('t').tag('d').i16(1).u8(1).cstring('id').i32(20).i32(-1).build(),
      {
        tag: 'Relation',
        streamXid: xid,
        relationOid: 9,
        namespace: 'public',
        relationName: 't',
        replicaIdentity: 'd',
        columns: [{ isKey: true, name: 'id', typeOid: 20, typeModifier: -1 }],
      },
    ],
    [
      enc().tag('Y').i32(xid).i32(16_400).cstring('public').cstring('mood').build(),
      { tag: 'Type', streamXid: xid, typeOid: 16_400, namespace: 'public', typeName: 'mood' },
    ],
    [enc().tag('I').i32(xid).i32(9).tag('N').tuple(['1']).build(), { tag: 'Insert', streamXid: xid, relationOid: 9, newTuple: ['1'] }],
    [
      enc().tag('U').i32(xid).i32(9).tag('K').tuple(['1']).tag('N').tuple(['2']).build(),
      { tag: 'Update', streamXid: xid, relationOid: 9, oldKind: 'K', oldTuple: ['1'], newTuple: ['2'] },
    ],
    [enc().tag('U').i32(xid).i32(9).tag('N').tuple(['3']).build(), { tag: 'Update', streamXid: xid, relationOid: 9, newTuple: ['3'] }],
    [enc().tag('D').i32(xid).i32(9).tag('O').tuple(['3']).build(), { tag: 'Delete', streamXid: xid, relationOid: 9, oldKind: 'O', oldTuple: ['3'] }],
    [enc().tag('T').i32(xid).i32(1).u8(1).i32(9).build(), { tag: 'Truncate', streamXid: xid, cascade: true, restartIdentity: false, relationOids: [9] }],
    [
      enc().tag('M').i32(xid).u8(1).i64(77n).cstring('p').i32(2).u8(0xca).u8(0xfe).build(),
      { tag: 'Message', streamXid: xid, transactional: true, lsn: 77n, prefix: 'p', content: new Uint8Array([0xca, 0xfe]) },
    ],
  ]
  for (const [payload, expected] of inStream) assertEquals(plain(decoder.decode(payload)), expected, expected.tag)
  assertEquals(plain(decoder.decode(enc().tag('E').build())), { tag: 'StreamStop' })
  assert(!decoder.streaming)
  const after = decoder.decode(enc().tag('I').i32(9).tag('N').tuple(['4']).build())
  assertEquals(plain(after), { tag: 'Insert', relationOid: 9, newTuple: ['4'] })
  assert(!('streamXid' in after), 'no streamXid key outside a stream')
  assertEquals(plain(decoder.decode(enc().tag('S').i32(xid).u8(0).build())), { tag: 'StreamStart', xid, firstSegment: false })
  assertEquals(plain(decoder.decode(enc().tag('E').build())), { tag: 'StreamStop' })
})

test('pgoutput: Stream Commit and Stream Abort', () => {
  const commit = enc().tag('c').i32(0xfffffff0).u8(0).i64(0x30n).i64(0x58n).i64(800_000_000_000_000n).build()
  assertEquals(plain(decodeOne(commit)), { tag: 'StreamCommit', xid: 0xfffffff0, flags: 0, commitLsn: 0x30n, endLsn: 0x58n, commitTime: 800_000_000_000_000n })
  const abort = enc().tag('A').i32(700).i32(701).build()
  assertEquals(plain(decodeOne(abort)), { tag: 'StreamAbort', xid: 700, subXid: 701 })
})

test('pgoutput: reset forgets an open stream block', () => {
  const decoder = new PgoutputDecoder()
  decoder.decode(enc().tag('S').i32(1).u8(1).build())
  decoder.reset()
  assert(!decoder.streaming)
  assertEquals(plain(decoder.decode(enc().tag('I').i32(9).tag('N').tuple([]).build())), { tag: 'Insert', relationOid: 9, newTuple: [] })
})

test('pgoutput: payloads that are views into a larger buffer (byteOffset != 0)', () => {
  const decoder = new PgoutputDecoder()
  const first = enc().tag('B').i64(0x10n).i64(20n).i32(30).build()
  const second = enc()
    .tag('I')
    .i32(0x01020304)
    .tag('N')
    .tuple(['hé', new Uint8Array([5])])
    .build()
  const chunk = new Uint8Array(3 + first.length + 2 + second.length + 4).fill(0xee)
  chunk.set(first, 3)
  chunk.set(second, 3 + first.length + 2)
  const firstView = chunk.subarray(3, 3 + first.length)
  const secondView = chunk.subarray(3 + first.length + 2, 3 + first.length + 2 + second.length)
  assertEquals(plain(decoder.decode(firstView)), { tag: 'Begin', finalLsn: 0x10n, commitTime: 20n, xid: 30 })
  assertEquals(plain(decoder.decode(secondView)), { tag: 'Insert', relationOid: 0x01020304, newTuple: ['hé', new Uint8Array([5])] })
  // A view ending early must not read the 0xee bytes that follow it in the buffer.
  assertThrows(() => decoder.decode(chunk.subarray(3, 3 + first.length - 1)), DecodeErrorPattern)
  assertEquals(plain(decoder.decode(first)), { tag: 'Begin', finalLsn: 0x10n, commitTime: 20n, xid: 30 })
})

/** The message with each tuple as its column values (see Tuple.values), to compare with literals. */
function plain(message: PgoutputMessage): unknown {
  const fields: Record<string, unknown> = { ...message }
  for (const key of ['newTuple', 'oldTuple']) {
    const tuple = fields[key]
    if (tuple instanceof Tuple) fields[key] = tuple.values()
  }
  return fields
}

const DecodeErrorPattern = /offset \d+/

test('pgoutput: unknown tag names the tag in hex and the offset', () => {
  const error = assertThrows(() => decodeOne(enc().tag('z').i32(1).build()), 'unknown pgoutput message tag 0x7a at offset 0')
  assert(error instanceof DecodeError)
  assertEquals(error.offset, 0)
})

test('pgoutput: every truncation of a valid payload throws DecodeError', () => {
  const payloads = [
    enc().tag('B').i64(1n).i64(2n).i32(3).build(),
    enc().tag('C').u8(0).i64(1n).i64(2n).i64(3n).build(),
    enc().tag('R').i32(9).cstring('public').cstring('t').tag('d').i16(1).u8(1).cstring('id').i32(20).i32(-1).build(),
    enc()
      .tag('U')
      .i32(9)
      .tag('O')
      .tuple(['1', null, UNCHANGED_TOAST, new Uint8Array([1])])
      .tag('N')
      .tuple(['2'])
      .build(),
    enc().tag('T').i32(2).u8(0).i32(1).i32(2).build(),
    enc().tag('M').u8(1).i64(1n).cstring('p').i32(3).raw([1, 2, 3]).build(),
    enc().tag('c').i32(1).u8(0).i64(1n).i64(2n).i64(3n).build(),
    enc().tag('A').i32(1).i32(2).build(),
  ]
  for (const payload of payloads) {
    decodeOne(payload) // the whole payload is valid
    for (let length = 0; length < payload.length; length++) {
      const error = assertThrows(() => decodeOne(payload.subarray(0, length)), DecodeErrorPattern)
      assert(error instanceof DecodeError, `${String.fromCharCode(payload[0]!)} cut to ${length} bytes: ${error.name}`)
    }
  }
})

test('pgoutput: truncation error reports where reading stopped', () => {
  const payload = enc().tag('I').i32(9).tag('N').i16(1).tag('t').i32(10).raw([0x61, 0x62]).build()
  const error = assertThrows(() => decodeOne(payload), 'cannot read 10 bytes at offset 13')
  assert(error instanceof DecodeError)
  assertEquals(error.offset, 13)
})

test('pgoutput: malformed payloads throw DecodeError', () => {
  assertThrows(() => decodeOne(enc().tag('I').i32(9).tag('N').i16(1).tag('x').build()), 'unknown tuple column kind 0x78 at offset 8')
  assertThrows(() => decodeOne(enc().tag('I').i32(9).tag('K').tuple([]).build()), "expected new tuple 'N' at offset 5, got 0x4b")
  assertThrows(() => decodeOne(enc().tag('U').i32(9).tag('K').tuple([]).tag('O').tuple([]).build()), "expected new tuple 'N'")
  assertThrows(() => decodeOne(enc().tag('D').i32(9).tag('N').tuple([]).build()), "Delete: expected 'K' or 'O' at offset 5, got 0x4e")
  assertThrows(() => decodeOne(enc().tag('I').i32(9).tag('N').i16(1).tag('t').i32(-1).build()), 'negative column value length -1')
  assertThrows(() => decodeOne(enc().tag('I').i32(9).tag('N').i16(-2).build()), 'negative tuple column count -2')
  assertThrows(() => decodeOne(enc().tag('O').i64(1n).raw([0x61, 0x62]).build()), 'unterminated string at offset 9')
  assertThrows(() => decodeOne(enc().tag('A').i32(1).i32(2).u8(0).build()), 'StreamAbort message has 1 unexpected trailing bytes at offset 9')
  assertThrows(() => decodeOne(new Uint8Array(0)), 'cannot read 1 bytes at offset 0')
})

test('pgoutput: ByteReader reads big-endian integers, strings and views', () => {
  const data = enc().i16(-2).i32(-3).i32(0xfffffffd).i64(0xffff_ffff_ffff_ffffn).i64(-1n).cstring('hé').u8(7).raw([1, 2, 3]).build()
  const r = new ByteReader(data)
  assertEquals(r.i16(), -2)
  assertEquals(r.i32(), -3)
  assertEquals(r.u32(), 0xfffffffd)
  assertEquals(r.u64(), 0xffff_ffff_ffff_ffffn)
  assertEquals(r.i64(), -1n)
  assertEquals(r.cstring(), 'hé')
  assertEquals(r.offset, 30)
  assertEquals(r.remaining, 4)
  assertEquals(r.u8(), 7)
  const view = r.bytes(3)
  assertEquals(view, new Uint8Array([1, 2, 3]))
  assert(view.buffer === data.buffer && view.byteOffset === 31, 'bytes() is a view')
  assertEquals(r.remaining, 0)
  assertThrows(() => r.u8(), 'cannot read 1 bytes at offset 34: the message is 34 bytes long')
  assertThrows(() => r.bytes(-1), 'cannot read -1 bytes')
})

test('pgoutput: a payload behind a header decodes in place; error offsets still count from the payload', () => {
  const decoder = new PgoutputDecoder()
  const payload = enc()
    .tag('I')
    .i32(9)
    .tag('N')
    .tuple(['hé', null, 'x'.repeat(20)])
    .build()
  const framed = new Uint8Array(25 + payload.length).fill(0xee)
  framed.set(payload, 25)
  assertEquals(plain(decoder.decode(framed, 25)), { tag: 'Insert', relationOid: 9, newTuple: ['hé', null, 'x'.repeat(20)] })
  for (const cut of [3, 12, payload.length - 1]) {
    const alone = assertThrows(() => decoder.decode(payload.subarray(0, cut)), DecodeErrorPattern)
    const inPlace = assertThrows(() => decoder.decode(framed.subarray(0, 25 + cut), 25), DecodeErrorPattern)
    assertEquals(inPlace.message, alone.message, `cut at ${cut}`)
    assert(alone instanceof DecodeError && inPlace instanceof DecodeError)
    assertEquals(inPlace.offset, alone.offset)
  }
})
