/**
 * @module Unit tests for streamed in-progress transactions: the spool file format, the spool
 * directory's stale-directory rule, the receiver's routing and replay (on hand-built pgoutput
 * payloads), and the streaming mode rules.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import { test } from '../harness.ts'
import { assert, assertEquals, assertRejects, assertThrows } from '../assert.ts'
import { TransactionAssembler, type ChangeSink } from '../../src/change/assemble.ts'
import type { Change } from '../../src/change/change.ts'
import { ChangeReceiver } from '../../src/change/receive.ts'
import { SpoolDirectory } from '../../src/change/streamed/spool-directory.ts'
import { readFrames, SpoolWriter } from '../../src/change/streamed/spool-file.ts'
import { PgToBrokersError } from '../../src/errors.ts'
import { streamedMessageXid } from '../../src/pg/pgoutput/streamed.ts'
import { silentLogger } from '../../src/logger.ts'
import { explainStreamingFailure, useStreaming } from '../../src/pipeline/streaming.ts'
import type { PgType } from '../../src/pg/values/types.ts'

/** Builds pgoutput payloads: big-endian integers, NUL-terminated strings. */
class Payload {
  readonly #bytes: number[] = []
  byte(n: number): this {
    this.#bytes.push(n & 0xff)
    return this
  }
  tag(c: string): this {
    return this.byte(c.charCodeAt(0))
  }
  i16(n: number): this {
    return this.byte(n >> 8).byte(n)
  }
  i32(n: number): this {
    return this.byte(n >>> 24)
      .byte(n >>> 16)
      .byte(n >>> 8)
      .byte(n)
  }
  i64(n: bigint): this {
    return this.i32(Number(n >> 32n)).i32(Number(n & 0xffffffffn))
  }
  cstring(s: string): this {
    for (const b of new TextEncoder().encode(s)) this.byte(b)
    return this.byte(0)
  }
  text(s: string): this {
    const bytes = new TextEncoder().encode(s)
    this.tag('t').i32(bytes.length)
    for (const b of bytes) this.byte(b)
    return this
  }
  build(): Uint8Array {
    return Uint8Array.from(this.#bytes)
  }
}

const p = () => new Payload()
const streamStart = (xid: number, first: boolean) =>
  p()
    .tag('S')
    .i32(xid)
    .byte(first ? 1 : 0)
    .build()
const streamStop = () => p().tag('E').build()
const relation = (xid: number | undefined, oid: number, columns: string[]) => {
  const payload = p().tag('R')
  if (xid !== undefined) payload.i32(xid)
  payload.i32(oid).cstring('public').cstring('t').tag('d').i16(columns.length)
  for (const [i, name] of columns.entries())
    payload
      .byte(i === 0 ? 1 : 0)
      .cstring(name)
      .i32(23)
      .i32(-1)
  return payload.build()
}
const insert = (xid: number | undefined, oid: number, values: number[]) => {
  const payload = p().tag('I')
  if (xid !== undefined) payload.i32(xid)
  payload.i32(oid).tag('N').i16(values.length)
  for (const v of values) payload.text(String(v))
  return payload.build()
}
const streamCommit = (xid: number, commitLsn: bigint, endLsn: bigint) => p().tag('c').i32(xid).byte(0).i64(commitLsn).i64(endLsn).i64(1000n).build()
const streamAbort = (xid: number, subXid: number) => p().tag('A').i32(xid).i32(subXid).build()
const begin = (xid: number, finalLsn: bigint) => p().tag('B').i64(finalLsn).i64(1000n).i32(xid).build()
const commit = (commitLsn: bigint, endLsn: bigint) => p().tag('C').byte(0).i64(commitLsn).i64(endLsn).i64(1000n).build()
const message = (xid: number, transactional: boolean) =>
  p()
    .tag('M')
    .i32(xid)
    .byte(transactional ? 1 : 0)
    .i64(5n)
    .cstring('pfx')
    .i32(1)
    .byte(65)
    .build()

const INTEGER: PgType = { oid: 23, name: 'integer', scalarOid: 23, delimiter: ',' }
const catalog = { types: async (oids: readonly number[]) => new Map(oids.map((oid) => [oid, INTEGER])), primaryKey: async () => ['id'] }

/** A receiver over a real assembler whose sink records changes and commits as text. */
function harness(spool: SpoolDirectory | undefined) {
  const out: string[] = []
  const sink: ChangeSink = {
    change: (c: Change) => void out.push(`${c.id} ${c.operation} ${c.fields.join(',')}=${c.values.join(',')} xid ${c.transactionId}`),
    commit: (endLsn) => void out.push(`commit ${endLsn}`),
  }
  const receiver = new ChangeReceiver(new TransactionAssembler(catalog, sink), spool, silentLogger)
  const feed = async (...payloads: Uint8Array[]) => {
    for (const payload of payloads) await receiver.handle(payload)
  }
  return { out, receiver, feed }
}

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'pgtb-unit-spool-'))
}

test('spool file: frames round-trip across buffer and chunk boundaries, a file per block sequence, none for an empty block', async () => {
  const dir = scratch()
  try {
    const writer = new SpoolWriter()
    const target = { path: join(dir, 'a.spool'), created: false }
    writer.begin(target)
    await writer.close()
    assertEquals(readdirSync(dir), [], 'a block without messages creates no file')
    const sizes = [1, 5, 300_000, 0, 2_000_000, ...Array.from({ length: 5000 }, (_, i) => (i * 37) % 900)]
    const frames = sizes.map((n, i) => Uint8Array.from({ length: n }, (_, j) => (i + j) & 0xff))
    for (const [i, frame] of frames.entries()) {
      if (i % 1000 === 0) {
        await writer.close()
        writer.begin(target)
      }
      await writer.append(frame)
    }
    await writer.close()
    assert(target.created, 'the file was created')
    assertEquals(statSync(target.path).mode & 0o777, 0o600, 'only its owner may read a spool file')
    const read: Uint8Array[] = []
    assertEquals(await readFrames(target.path, (f) => void read.push(f)), true, 'read to the end')
    assertEquals(read.length, frames.length, 'frame count')
    for (const [i, frame] of frames.entries()) assertEquals(read[i], frame, `frame ${i}`)
    const stop = new AbortController()
    let seen = 0
    const complete = await readFrames(target.path, () => void (++seen === 3 && stop.abort()), stop.signal)
    assertEquals([complete, seen], [false, 3], 'an abort stops the reading between frames')
    writeFileSync(join(dir, 'torn.spool'), Uint8Array.from([0, 0, 0, 9, 1, 2]))
    const error = await assertRejects(() => readFrames(join(dir, 'torn.spool'), () => {}), /ends inside a message/)
    assertEquals((error as PgToBrokersError).code, 'spool_damaged')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('streamed message xid: data messages carry it; Origin and non-transactional messages do not belong to the stream', () => {
  assertEquals(streamedMessageXid(insert(0xfffffff0, 7, [1])), 0xfffffff0)
  assertEquals(streamedMessageXid(relation(42, 7, ['id'])), 42)
  assertEquals(streamedMessageXid(message(9, true)), 9)
  assertEquals(streamedMessageXid(message(9, false)), undefined)
  assertEquals(streamedMessageXid(p().tag('O').i64(1n).cstring('o').build()), undefined)
  assertEquals(streamedMessageXid(streamStop()), undefined)
  assertThrows(() => streamedMessageXid(p().tag('I').byte(1).build()), /too short/)
})

test(
  'receiver: streamed blocks are held until Stream Commit, then replayed whole with commit-LSN ids; ' +
    'rolled-back subtransactions and aborted transactions vanish',
  async () => {
    const dir = scratch()
    const spool = await SpoolDirectory.open(dir, silentLogger)
    try {
      const { out, receiver, feed } = harness(spool)
      // Transaction 100 streams; subtransaction 101 (with its own Relation) is rolled back; 102 commits with it.
      await feed(streamStart(100, true), relation(100, 7, ['id', 'v']), insert(100, 7, [1, 10]), insert(101, 7, [2, 20]), streamStop())
      await feed(streamStart(100, false), relation(101, 7, ['id', 'v', 'extra']), insert(101, 7, [3, 30, 0]), streamStop())
      await feed(streamAbort(100, 101))
      // Transaction 200 streams too, then aborts whole.
      await feed(streamStart(200, true), relation(200, 7, ['id', 'v']), insert(200, 7, [9, 90]), streamStop(), streamAbort(200, 200))
      assert(receiver.inFlight, 'an open streamed transaction is in flight')
      assertEquals(receiver.openStreams, 1)
      // A regular transaction commits first, with its own Relation: it goes straight through.
      await feed(begin(300, 0x50n), relation(undefined, 7, ['id', 'v']), insert(undefined, 7, [5, 50]), commit(0x50n, 0x58n))
      await feed(streamStart(100, false), relation(102, 7, ['id', 'v']), insert(102, 7, [4, 40]), streamStop())
      await feed(streamCommit(100, 0x60n, 0x68n))
      assertEquals(out, ['0/50:0 INSERT id,v=5,50 xid 300', 'commit 88', '0/60:0 INSERT id,v=1,10 xid 100', '0/60:1 INSERT id,v=4,40 xid 100', 'commit 104'])
      assert(!receiver.inFlight, 'nothing in flight after the Stream Commit')
      assertEquals(readdirSync(spool.path), [], 'spool files are deleted at commit and abort')
      await receiver.close()
    } finally {
      await spool.remove()
      rmSync(dir, { recursive: true, force: true })
    }
  },
)

test('receiver: protocol violations and streaming that was not asked for are errors', async () => {
  const { feed } = harness(undefined)
  await assertRejects(() => feed(streamStart(1, true)), /streaming of in-progress transactions was not requested/)
  const dir = scratch()
  const spool = await SpoolDirectory.open(dir, silentLogger)
  try {
    await assertRejects(() => harness(spool).feed(streamStart(1, false)), /whose first block this connection never saw/)
    await assertRejects(() => harness(spool).feed(streamCommit(5, 1n, 2n)), /never saw streamed/)
    await harness(spool).feed(streamAbort(5, 5)) // nothing of it was streamed here: nothing to discard
  } finally {
    await spool.remove()
    rmSync(dir, { recursive: true, force: true })
  }
})

test(
  'spool directory: private, per run; a start removes those of dead processes (and of its own PID but not its own), ' + 'not of live ones or other hosts',
  async () => {
    const parent = scratch()
    try {
      const host = hostname().replace(/[^A-Za-z0-9-]/g, '_') || 'host'
      const prefix = `pg-to-brokers-spool.${host}.`
      const dead = join(parent, `${prefix}4194999.abcdef`) // above Linux's pid_max: never a live process
      const reusedOwnPid = join(parent, `${prefix}${process.pid}.zzzzzz`)
      const live = join(parent, `${prefix}1.qwerty`) // PID 1 is always alive
      const otherHost = join(parent, 'pg-to-brokers-spool.another-host.4194999.abcdef')
      for (const dir of [dead, reusedOwnPid, live, otherHost]) mkdirSync(dir)
      writeFileSync(join(dead, '1.1.spool'), 'x')
      const first = await SpoolDirectory.open(parent, silentLogger)
      const second = await SpoolDirectory.open(parent, silentLogger)
      assertEquals(statSync(first.path).mode & 0o777, 0o700, 'only its owner may enter a spool directory')
      const names = readdirSync(parent).sort()
      assertEquals(
        names,
        [first.path, second.path, live, otherHost].map((d) => d.slice(parent.length + 1)).sort(),
        "stale directories removed, live and foreign ones kept, both runs' own kept",
      )
      assert(/^7\.\d+\.spool$/.test(first.fileFor(7).slice(first.path.length + 1)), 'spool file names: xid, counter')
      await first.remove()
      await second.remove()
      assertEquals(readdirSync(parent).sort(), [live, otherHost].map((d) => d.slice(parent.length + 1)).sort())
    } finally {
      rmSync(parent, { recursive: true, force: true })
    }
  },
)

test('streaming mode: auto follows the server version, on insists, off never; internal decoding errors get advice', () => {
  assertEquals(
    [useStreaming('auto', 140000), useStreaming('auto', 130012), useStreaming('off', 170000), useStreaming('on', 150000)],
    [true, false, false, true],
  )
  assertThrows(() => useStreaming('on', 130012), /PostgreSQL 130012 cannot stream in-progress transactions/)
  const internal = new PgToBrokersError('pg_error', 'PostgreSQL error XX000 at h:5432: could not map filenode', { cause: { code: 'XX000' } })
  const explained = explainStreamingFailure(internal) as PgToBrokersError
  assertEquals(explained.code, 'streamed_decoding_failed')
  assert(explained.message.startsWith(internal.message) && /postgres\.streaming "off"/.test(explained.message), explained.message)
  const other = new PgToBrokersError('pg_connection_lost', 'lost')
  assert(explainStreamingFailure(other) === other, 'other errors pass through')
})
