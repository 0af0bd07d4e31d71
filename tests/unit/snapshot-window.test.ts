// Incremental snapshot windows (DBLog watermarks) on fake changes: which chunk rows a streamed change overtook,
// which transactions a chunk's MVCC snapshot saw, and when the window cannot tell (read the chunk again).
import { test } from '../harness.ts'
import { assert, assertEquals, assertRejects, assertThrows } from '../assert.ts'
import type { Change, Operation } from '../../src/change/change.ts'
import type { RelationSchema } from '../../src/change/relations.ts'
import { WATERMARK_PREFIX, SnapshotWindows, type ChunkOutcome } from '../../src/snapshot/watermark-window.ts'
import { committedBefore, parseXidSnapshot, xidPrecedes, type XidSnapshot } from '../../src/snapshot/xid-snapshot.ts'

const TABLE = 'public.orders'
const OTHER = 'public.other'

function relation(qualifiedName: string): RelationSchema {
  const [schema, name] = qualifiedName.split('.') as [string, string]
  return {
    oid: 1,
    schema,
    name,
    qualifiedName,
    replicaIdentity: 'd',
    columns: [],
    fields: ['id', 'v'],
    types: ['int4', 'text'],
    keyIndexes: [0],
  }
}

const RELATIONS = new Map([TABLE, OTHER].map((name) => [name, relation(name)]))

/** A row change (or a READ of a chunk, or a TRUNCATE) of `table`, key `id`, by transaction `xid`. */
function row(operation: Operation, id: number, xid = 0, table = TABLE): Change {
  const rel = RELATIONS.get(table)!
  return {
    id: operation === 'READ' ? `snapshot:1:["${id}"]` : `0/1:${id}`,
    operation,
    relation: rel,
    fields: rel.fields,
    types: rel.types,
    values: operation === 'TRUNCATE' ? [] : [id, `v${id}`],
    unchangedToastFields: undefined,
    old: undefined,
    transactionId: xid,
    commitLsn: 0n,
    commitTime: null,
    ordinal: 0,
    truncate: operation === 'TRUNCATE' ? { cascade: false, restartIdentity: false } : undefined,
    message: undefined,
  }
}

/** A watermark message as the stream shows it: `<window id>:low` or `:high`, committed at `lsn`. */
function watermark(text: string, lsn = 0n): Change {
  return {
    id: `${lsn}:0`,
    operation: 'MESSAGE',
    relation: undefined,
    fields: [],
    types: [],
    values: [],
    unchangedToastFields: undefined,
    old: undefined,
    transactionId: 0,
    commitLsn: lsn,
    commitTime: null,
    ordinal: 0,
    truncate: undefined,
    message: { prefix: WATERMARK_PREFIX, content: new TextEncoder().encode(text), transactional: true },
  }
}

const chunk = (...ids: number[]): Change[] => ids.map((id) => row('READ', id))

/** A snapshot that saw every transaction before 1000 except 990 and 995. */
const SNAPSHOT: XidSnapshot = { xmin: 990, xmax: 1000, inProgress: new Set([990, 995]) }

/** Delivered rows' keys, in delivery order. */
async function high(windows: SnapshotWindows, id: string, lsn = 500n): Promise<number[]> {
  const delivered: number[] = []
  await windows.watermark(watermark(`${id}:high`, lsn), (r) => void delivered.push(r.values[0] as number))
  return delivered
}

/** One window: `before` streamed before its low watermark, `inside` between it and the high one. */
async function runWindow(
  before: readonly Change[],
  inside: readonly Change[],
  rows: readonly Change[],
  snapshot = SNAPSHOT,
): Promise<{ delivered: number[]; outcome: ChunkOutcome }> {
  const windows = new SnapshotWindows()
  windows.watch(TABLE)
  const outcome = windows.expect('7:ab:0', TABLE)
  for (const change of before) windows.observe(change)
  await windows.watermark(watermark('7:ab:0:low'), () => assert(false, 'a low watermark delivers nothing'))
  for (const change of inside) windows.observe(change)
  windows.chunkRead('7:ab:0', { changes: rows, snapshot })
  const delivered = await high(windows, '7:ab:0')
  return { delivered, outcome: await outcome }
}

test('snapshot window: rows changed between the watermarks are dropped, the rest delivered in order at the high watermark', async () => {
  const { delivered, outcome } = await runWindow(
    [],
    [row('UPDATE', 2, 1001), row('DELETE', 4, 1002), row('INSERT', 9, 1003), row('UPDATE', 3, 1004, OTHER)],
    chunk(1, 2, 3, 4, 5),
  )
  assertEquals(delivered, [1, 3, 5], 'key 3 changed only in another table')
  assertEquals(outcome, { lsn: 500n, delivered: 3, dropped: 2, retry: false })
})

test('snapshot window: without changes in the window every row is delivered', async () => {
  const { delivered, outcome } = await runWindow([], [], chunk(1, 2, 3))
  assertEquals(delivered, [1, 2, 3])
  assertEquals(outcome.dropped, 0)
})

test('snapshot window: a change before the low watermark by a transaction the chunk did not see drops the row; a seen one does not', async () => {
  const before = [
    row('UPDATE', 1, 980), // before xmin: seen
    row('UPDATE', 2, 990), // xmin itself, in progress: not seen
    row('UPDATE', 3, 995), // in progress: not seen
    row('UPDATE', 4, 993), // between xmin and xmax, not in progress: seen
    row('UPDATE', 5, 1000), // xmax: not seen
    row('UPDATE', 6, 1200), // after xmax: not seen
    row('UPDATE', 7, 995, OTHER), // not seen, but another table
  ]
  const { delivered, outcome } = await runWindow(before, [], chunk(1, 2, 3, 4, 5, 6, 7))
  assertEquals(delivered, [1, 4, 7])
  assertEquals(outcome, { lsn: 500n, delivered: 3, dropped: 4, retry: false })
})

test('snapshot window: transaction ids past 2^31 are compared as the server does (in progress, or at or after xmax: not seen)', async () => {
  const base = 3_000_000_000
  const snapshot: XidSnapshot = { xmin: base, xmax: base + 10, inProgress: new Set([base, base + 5]) }
  const before = [row('UPDATE', 1, base - 1), row('UPDATE', 2, base + 5), row('UPDATE', 3, base + 3), row('UPDATE', 4, base + 10)]
  const { delivered } = await runWindow(before, [], chunk(1, 2, 3, 4), snapshot)
  assertEquals(delivered, [1, 3], 'rows changed by transactions the snapshot did not see are dropped')
})

test('snapshot window: a TRUNCATE between the watermarks drops the whole chunk; one of another table does not', async () => {
  const dropped = await runWindow([], [row('TRUNCATE', 0, 1001)], chunk(1, 2, 3))
  assertEquals(dropped.delivered, [])
  assertEquals(dropped.outcome, { lsn: 500n, delivered: 0, dropped: 3, retry: false })
  const kept = await runWindow([], [row('TRUNCATE', 0, 1001, OTHER)], chunk(1, 2, 3))
  assertEquals(kept.delivered, [1, 2, 3])
})

test('snapshot window: a TRUNCATE just before the low watermark that the snapshot did not see drops the chunk', async () => {
  const { delivered } = await runWindow([row('TRUNCATE', 0, 995)], [], chunk(1, 2))
  assertEquals(delivered, [])
})

test('snapshot window: unknown and stale watermarks are ignored; a high watermark before its low one is too', async () => {
  const windows = new SnapshotWindows()
  windows.watch(TABLE)
  const outcome = windows.expect('7:ab:1', TABLE)
  let settled = false
  void outcome.then(() => (settled = true))
  const nothing = () => assert(false, 'nothing is delivered for a watermark of no window')
  // An earlier run's windows (re-sent from the slot), other requests, another process's messages.
  for (const text of ['7:old:1:low', '7:old:1:high', '8:ab:1:high', '7:ab:2:high', 'garbage', '7:ab:1:middle']) {
    await windows.watermark(watermark(text), nothing)
  }
  windows.chunkRead('7:old:1', { changes: chunk(1), snapshot: SNAPSHOT })
  windows.chunkRead('7:ab:1', { changes: chunk(1, 2), snapshot: SNAPSHOT })
  // The high watermark before its low one (a re-sent one of the same id): the window stays open.
  await windows.watermark(watermark('7:ab:1:high'), nothing)
  await Promise.resolve()
  assertEquals(settled, false, 'a high watermark without its low one settles nothing')
  await windows.watermark(watermark('7:ab:1:low'), nothing)
  windows.observe(row('UPDATE', 2, 1001))
  assertEquals(await high(windows, '7:ab:1', 900n), [1])
  assertEquals(await outcome, { lsn: 900n, delivered: 1, dropped: 1, retry: false })
  // Once handled, its id is stale: a re-sent high watermark delivers nothing again.
  await windows.watermark(watermark('7:ab:1:low'), nothing)
  await windows.watermark(watermark('7:ab:1:high'), nothing)
})

test('snapshot window: isWatermark knows only its own prefix', () => {
  const windows = new SnapshotWindows()
  assert(windows.isWatermark(watermark('1:a:0:low')))
  const other = { ...watermark('1:a:0:low'), message: { prefix: 'app', content: new Uint8Array(0), transactional: true } }
  assert(!windows.isWatermark(other))
  assert(!windows.isWatermark(row('INSERT', 1, 5)))
})

test('snapshot window: a high watermark whose chunk was never handed over asks for a retry', async () => {
  const windows = new SnapshotWindows()
  windows.watch(TABLE)
  const outcome = windows.expect('1:a:0', TABLE)
  await windows.watermark(watermark('1:a:0:low'), () => {})
  assertEquals(await high(windows, '1:a:0', 42n), [])
  assertEquals(await outcome, { lsn: 42n, delivered: 0, dropped: 0, retry: true })
})

test('snapshot window: more changes in the window than the ring holds → retry, nothing delivered', async () => {
  const inside = Array.from({ length: (1 << 16) + 1 }, (_, i) => row('UPDATE', 100 + i, 1001))
  const { delivered, outcome } = await runWindow([], inside, chunk(1, 2, 3))
  assertEquals(delivered, [])
  assertEquals(outcome, { lsn: 500n, delivered: 0, dropped: 0, retry: true })
  // Exactly a ring's worth fits: the window is still whole.
  const full = Array.from({ length: 1 << 16 }, (_, i) => row('UPDATE', 100 + i, 1001))
  const whole = await runWindow([], full, chunk(1, 2, 3))
  assertEquals(whole.delivered, [1, 2, 3])
})

test('snapshot window: a change pushed out of the ring by a transaction the snapshot may not have seen → retry; an old one does not matter', async () => {
  const ring = 1 << 16
  // Before the low watermark: a ring's worth and one of changes; the one pushed out is by 995 (in progress for the snapshot).
  const unseen = [row('UPDATE', 50, 995), ...Array.from({ length: ring }, (_, i) => row('UPDATE', 100 + i, 980))]
  const retry = await runWindow(unseen, [], chunk(1, 2))
  assertEquals(retry.outcome.retry, true, 'the evicted change may have overtaken a chunk row')
  assertEquals(retry.delivered, [])
  // The same with the evicted change by 980, before xmin: it was seen, so it cannot have overtaken anything.
  const seen = [row('UPDATE', 50, 980), ...Array.from({ length: ring }, (_, i) => row('UPDATE', 100 + i, 980))]
  const ok = await runWindow(seen, [], chunk(1, 2, 50))
  assertEquals(ok.outcome.retry, false)
  assertEquals(ok.delivered, [1, 2, 50])
})

test('snapshot window: changes of tables not watched (or no longer) are not remembered', async () => {
  const windows = new SnapshotWindows()
  assertEquals(windows.active, false)
  windows.watch(TABLE)
  windows.watch(TABLE)
  windows.unwatch(TABLE)
  assertEquals(windows.active, true, 'watched twice, unwatched once')
  windows.unwatch(TABLE)
  assertEquals(windows.active, false)
  const outcome = windows.expect('1:a:0', TABLE)
  await windows.watermark(watermark('1:a:0:low'), () => {})
  windows.observe(row('UPDATE', 1, 1001))
  windows.chunkRead('1:a:0', { changes: chunk(1), snapshot: SNAPSHOT })
  assertEquals(await high(windows, '1:a:0'), [1], 'a change of an unwatched table overtakes nothing')
  assertEquals((await outcome).retry, false)
})

test('snapshot window: abandon rejects open windows; cancel forgets one', async () => {
  const windows = new SnapshotWindows()
  windows.watch(TABLE)
  const cancelled = windows.expect('1:a:0', TABLE)
  windows.cancel('1:a:0')
  await windows.watermark(watermark('1:a:0:low'), () => {})
  assertEquals(await high(windows, '1:a:0'), [], 'a cancelled window is unknown')
  const open = windows.expect('1:a:1', TABLE)
  windows.abandon(new Error('the replication stream stopped'))
  await assertRejects(() => open, 'the replication stream stopped')
  let settled = false
  void cancelled.then(
    () => (settled = true),
    () => (settled = true),
  )
  await Promise.resolve()
  assertEquals(settled, false, 'a cancelled window is never settled')
})

test('xid snapshot: pg_current_snapshot() text parsed into 32-bit ids, epoch dropped', () => {
  assertEquals(parseXidSnapshot('100:105:101,103'), { xmin: 100, xmax: 105, inProgress: new Set([101, 103]) })
  assertEquals(parseXidSnapshot('742:742:'), { xmin: 742, xmax: 742, inProgress: new Set<number>() })
  // Epoch 1: 2^32 + 100.
  assertEquals(parseXidSnapshot('4294967396:4294967400:4294967398\n'), { xmin: 100, xmax: 104, inProgress: new Set([102]) })
  // Across a wraparound: xmin in epoch 0, xmax in epoch 1.
  assertEquals(parseXidSnapshot('4294967290:4294967300:4294967295,4294967298'), { xmin: 4294967290, xmax: 4, inProgress: new Set([4294967295, 2]) })
  for (const bad of ['', '1:2', 'a:b:', '1:2:3:4', '1:2:x']) {
    const error = assertThrows(() => parseXidSnapshot(bad), 'unexpected pg_current_snapshot() value')
    assertEquals((error as { code?: string }).code, 'protocol_error')
  }
})

test('xid snapshot: xidPrecedes compares modulo 2^32, as the server compares normal transaction ids', () => {
  assert(xidPrecedes(3, 5))
  assert(!xidPrecedes(5, 3))
  assert(!xidPrecedes(5, 5))
  assert(xidPrecedes(4294967290, 4), 'just before a wraparound precedes just after it')
  assert(!xidPrecedes(4, 4294967290))
  assert(xidPrecedes(3_000_000_000, 3_000_000_001), 'ids past 2^31')
  assert(xidPrecedes(100, 100 + 2 ** 31 - 1), 'up to 2^31 - 1 ahead is later')
  assert(!xidPrecedes(100, 100 + 2 ** 31 + 1), 'more than 2^31 ahead is earlier (wrapped)')
})

test('xid snapshot: committedBefore — before xmin yes; in progress, at or after xmax no; also across a wraparound', () => {
  const s = parseXidSnapshot('100:105:101,103')
  assertEquals(
    [98, 99, 100, 101, 102, 103, 104, 105, 106].map((xid) => committedBefore(s, xid)),
    [true, true, true, false, true, false, true, false, false],
  )
  const wrapped = parseXidSnapshot('4294967290:4294967300:4294967295,4294967298')
  assertEquals(
    [4294967280, 4294967294, 4294967295, 0, 2, 3, 4, 10].map((xid) => committedBefore(wrapped, xid)),
    [true, true, false, true, false, true, false, false],
  )
})
