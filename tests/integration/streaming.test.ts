/**
 * Streaming of large in-progress transactions (protocol 2, `streaming 'on'`): what the server
 * sends, and that the pipeline turns it into exactly the records a non-streaming run produces —
 * commit order, whole transactions, the same ids, byte for byte — with rolled-back transactions and
 * subtransactions left out and schema changes inside a streamed transaction followed.
 *
 * The test server runs with logical_decoding_work_mem=64kB, so a few hundred rows of ~330 bytes
 * already make the server stream a transaction.
 */
import postgres from 'postgres'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { PgoutputDecoder } from '../../src/pg/pgoutput/decode.ts'
import type { PgoutputMessage } from '../../src/pg/pgoutput/messages.ts'
import { ReplicationConnection } from '../../src/pg/replication.ts'
import { dropSlot, requireServer, sqlClient, TEST_URL, uniqueName, waitFor } from './support.ts'
import { assertWholeTransactions, compareWithUnstreamed, PAYLOAD_SQL, spoolFilesIn, streamedTransactions } from './streaming-support.ts'

const XLOG_DATA = 0x77
const XLOG_DATA_HEADER = 25

/** The low 32 bits of an xid8 text: what pgoutput sends. */
const xid32 = (text: string) => Number(BigInt(text) & 0xffffffffn)

/** Reads the slot with streaming on until `done` says so; returns every decoded message. */
async function captureMessages(slot: string, publication: string, done: (m: PgoutputMessage) => boolean): Promise<PgoutputMessage[]> {
  const replication = await ReplicationConnection.open(TEST_URL, 10_000)
  const decoder = new PgoutputDecoder()
  const captured: PgoutputMessage[] = []
  const stop = new AbortController()
  const timer = setTimeout(() => (stop.abort(), replication.interrupt()), 30_000)
  try {
    await replication.start({ slot, publication, startLsn: 0n, protoVersion: 2, streaming: true, messages: false })
    for await (const batch of replication.messages(stop.signal)) {
      for (const raw of batch) {
        if (raw[0] !== XLOG_DATA) continue
        const message = decoder.decode(raw.subarray(XLOG_DATA_HEADER))
        // Keep the decoded values: tuples hold strings, so nothing refers to the reused buffer.
        captured.push(message)
        if (done(message)) return captured
      }
    }
    throw new Error(`timed out capturing the stream; got ${captured.length} messages`)
  } finally {
    clearTimeout(timer)
    await replication.close()
  }
}

/**
 * The messages of transaction `xid`'s stream blocks, its Stream Abort and Commit: other sessions'
 * large transactions stream to every slot too, as empty blocks when they touch no published table.
 */
function ownStream(messages: PgoutputMessage[], xid: number): PgoutputMessage[] {
  let inOwnBlock = false
  return messages.filter((m) => {
    if (m.tag === 'StreamStart') inOwnBlock = m.xid === xid
    const own = inOwnBlock || ((m.tag === 'StreamAbort' || m.tag === 'StreamCommit') && m.xid === xid)
    if (m.tag === 'StreamStop') inOwnBlock = false
    return own
  })
}

test("server behaviour: streamed changes carry their subtransaction's xid; ROLLBACK TO sends Stream Abort(xid, subXid), then the schema again", async () => {
  await requireServer(14, 'streaming of in-progress transactions')
  const sql = sqlClient()
  const table = uniqueName('sx')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  try {
    await sql.unsafe(`create table ${table} (id int primary key, payload text)`)
    await sql.unsafe(`create publication ${publication} for table ${table}`)
    await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput')`
    // A row's xmin is the (sub)transaction that wrote it: SQL has no function for a subtransaction's xid.
    const xmin = async (tx: postgres.TransactionSql, from: number) =>
      Number((await tx.unsafe<{ x: string }[]>(`select distinct xmin::text as x from ${table} where id >= ${from}`))[0]!.x)
    const xids = { top: 0, rolledBack: 0, after: 0 }
    await sql.begin(async (tx) => {
      xids.top = xid32((await tx.unsafe<{ x: string }[]>(`select txid_current()::text as x`))[0]!.x)
      await tx.unsafe(`insert into ${table} select g, ${PAYLOAD_SQL} from generate_series(1, 1000) g`)
      await tx.unsafe(`savepoint a`)
      await tx.unsafe(`insert into ${table} select g, ${PAYLOAD_SQL} from generate_series(1001, 3000) g`)
      xids.rolledBack = await xmin(tx, 1001)
      await tx.unsafe(`rollback to savepoint a`)
      // ROLLBACK TO keeps the savepoint: what follows runs in a new subtransaction.
      await tx.unsafe(`insert into ${table} select g, ${PAYLOAD_SQL} from generate_series(3001, 4000) g`)
      xids.after = await xmin(tx, 3001)
    })
    assertEquals(new Set(Object.values(xids)).size, 3, `three distinct xids ${JSON.stringify(xids)}`)

    const messages = ownStream(await captureMessages(slot, publication, (m) => m.tag === 'StreamCommit' && m.xid === xids.top), xids.top)
    const starts = messages.filter((m) => m.tag === 'StreamStart')
    assert(starts.length >= 2, `the transaction was streamed in several blocks (got ${starts.length})`)
    assert(
      starts.every((m) => m.tag === 'StreamStart' && m.xid === xids.top),
      'every Stream Start names the top-level xid',
    )
    assert(starts[0]!.tag === 'StreamStart' && starts[0]!.firstSegment, 'the first block is marked first')
    const inserts = messages.flatMap((m) => (m.tag === 'Insert' ? [{ id: Number(m.newTuple.values()[0]), xid: m.streamXid }] : []))
    const idsOf = (xid: number) => inserts.filter((i) => i.xid === xid).map((i) => i.id)
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
    assertEquals(idsOf(xids.top), range(1, 1000), 'rows of the top level carry the top-level xid')
    const rolledBack = idsOf(xids.rolledBack)
    assert(rolledBack.length > 0, 'rows of the rolled-back subtransaction were streamed before the rollback')
    assertEquals(rolledBack, range(1001, 1000 + rolledBack.length), "rows streamed with the rolled-back subtransaction's xid are its rows")
    assertEquals(idsOf(xids.after), range(3001, 4000), 'rows of the subtransaction after ROLLBACK TO carry its own xid')
    assertEquals(inserts.length, 1000 + rolledBack.length + 1000, 'every streamed insert carries one of the three xids')
    const abortAt = messages.findIndex((m) => m.tag === 'StreamAbort')
    const abort = messages[abortAt]
    assert(
      abort?.tag === 'StreamAbort' && abort.xid === xids.top && abort.subXid === xids.rolledBack,
      `Stream Abort(xid ${xids.top}, subXid ${xids.rolledBack}), got ${JSON.stringify(abort)}`,
    )
    assertEquals(messages.filter((m) => m.tag === 'StreamAbort').length, 1, 'one Stream Abort')
    // The server forgets after any Stream Abort which schemas it sent in this transaction, so the
    // next change comes with a Relation again: replay may drop the aborted subtransaction's Relations.
    const relations = messages.flatMap((m, i) => (m.tag === 'Relation' ? [{ at: i, xid: m.streamXid }] : []))
    const firstAfter = messages.findIndex((m, i) => i > abortAt && m.tag === 'Insert')
    assertEquals(
      relations.map((r) => r.xid),
      [xids.top, xids.after],
      'a Relation before the first change, and again after the Stream Abort',
    )
    assert(relations[1]!.at > abortAt && relations[1]!.at < firstAfter, 'the second Relation comes between the Stream Abort and the next change')
  } finally {
    await dropSlot(sql, slot).catch(() => {})
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${publication}`)
    await sql.end()
  }
})

test('streamed large transactions interleaved with small ones: commit order, whole, ids and bytes as without streaming', async () => {
  await requireServer(14, 'streaming of in-progress transactions')
  const sql = sqlClient()
  const workers = postgres(TEST_URL, { max: 3, onnotice: () => {}, idle_timeout: 5 })
  const table = uniqueName('si')
  try {
    await sql.unsafe(`create table ${table} (id int primary key, who text not null, payload text)`)
    const expectedOrder: { who: string; xid: number; rows: number }[] = []
    const small = async (id: number) => {
      const [row] = await sql.unsafe<{ x: string }[]>(`insert into ${table} values (${id}, 'small', 'x') returning txid_current()::text as x`)
      expectedOrder.push({ who: 'small', xid: xid32(row!.x), rows: 1 })
    }
    const result = await compareWithUnstreamed(sql, [table], async (spool) => {
      const big1 = await workers.reserve()
      const big2 = await workers.reserve()
      try {
        await big1`begin`
        const xid1 = xid32((await big1<{ x: string }[]>`select txid_current()::text as x`)[0]!.x)
        await big1.unsafe(`insert into ${table} select g, 'big1', ${PAYLOAD_SQL} from generate_series(1, 2000) g`)
        await waitFor(() => spoolFilesIn(spool.files()).length > 0, 15_000, 'a spool file for the open transaction')
        await small(100_001)
        await small(100_002)
        await big2`begin`
        const xid2 = xid32((await big2<{ x: string }[]>`select txid_current()::text as x`)[0]!.x)
        await big2.unsafe(`insert into ${table} select g, 'big2', ${PAYLOAD_SQL} from generate_series(10001, 11500) g`)
        await big1.unsafe(`insert into ${table} select g, 'big1', ${PAYLOAD_SQL} from generate_series(2001, 4000) g`)
        await small(100_003)
        await big2.unsafe(`update ${table} set payload = 'updated' where id between 10001 and 10500`)
        await big1.unsafe(`delete from ${table} where id between 1 and 300`)
        await big2`commit` // began after big1, commits before it
        expectedOrder.push({ who: 'big2', xid: xid2, rows: 2000 })
        await small(100_004)
        await big1`commit`
        expectedOrder.push({ who: 'big1', xid: xid1, rows: 4300 })
        await small(100_005)
      } finally {
        big1.release()
        big2.release()
      }
    })
    const blocks = [...assertWholeTransactions(result.streamed).values()]
    assertEquals(
      blocks.map((b) => ({ who: b[0]!.change.values[1] as string, xid: b[0]!.change.transactionId, rows: b.length })),
      expectedOrder,
      'transactions in commit order, each whole',
    )
    const { replayed } = streamedTransactions(result.logger)
    const bigXids = expectedOrder.filter((e) => e.who !== 'small').map((e) => e.xid)
    assert(
      bigXids.every((xid) => replayed.has(xid)),
      'both large transactions came streamed and were replayed from their spool',
    )
    assert(result.stats.streamed.streamTxns >= 2, `the server counted the streamed transactions: ${JSON.stringify(result.stats)}`)
    assertEquals(result.stats.unstreamed.streamTxns, 0, 'the copy, with streaming off, streamed nothing')
    console.log(
      `     ${result.streamed.length} records in ${blocks.length} transactions, identical with and without streaming; server stats: ` +
        `${JSON.stringify(result.stats)}`,
    )
  } finally {
    await workers.end()
    await sql.unsafe(`drop table if exists ${table}`)
    await sql.end()
  }
})

test('an aborted large streamed transaction produces nothing, and its spool file goes at once', async () => {
  await requireServer(14, 'streaming of in-progress transactions')
  const sql = sqlClient()
  const table = uniqueName('sa')
  try {
    await sql.unsafe(`create table ${table} (id int primary key, payload text)`)
    let xid = 0
    const result = await compareWithUnstreamed(sql, [table], async (spool) => {
      const big = await sql.reserve()
      try {
        await big`begin`
        xid = xid32((await big<{ x: string }[]>`select txid_current()::text as x`)[0]!.x)
        await big.unsafe(`insert into ${table} select g, ${PAYLOAD_SQL} from generate_series(1, 3000) g`)
        await waitFor(() => spoolFilesIn(spool.files()).length > 0, 15_000, 'a spool file for the open transaction')
        await big.unsafe(`update ${table} set payload = 'x' where id <= 1000`)
        await big`rollback`
      } finally {
        big.release()
      }
      await sql.unsafe(`insert into ${table} values (0, 'sentinel')`)
      await waitFor(() => spoolFilesIn(spool.files()).length === 0, 15_000, "the aborted transaction's spool file to be deleted")
    })
    assertEquals(
      result.streamed.map((r) => r.change.values),
      [[0, 'sentinel']],
      'only the sentinel',
    )
    const { replayed, discarded } = streamedTransactions(result.logger)
    assert(discarded.has(xid) && !replayed.has(xid), 'the transaction was streamed, then discarded')
  } finally {
    await sql.unsafe(`drop table if exists ${table}`)
    await sql.end()
  }
})

test('savepoints rolled back inside a large streamed transaction: their rows are absent, the rest present', async () => {
  await requireServer(14, 'streaming of in-progress transactions')
  const sql = sqlClient()
  const table = uniqueName('ss')
  try {
    await sql.unsafe(`create table ${table} (id int primary key, payload text)`)
    const insert = (from: number, to: number) => `insert into ${table} select g, ${PAYLOAD_SQL} from generate_series(${from}, ${to}) g`
    const result = await compareWithUnstreamed(sql, [table], async () => {
      await sql.begin(async (tx) => {
        await tx.unsafe(`savepoint first`) // the table's first change is in a subtransaction that is rolled back
        await tx.unsafe(insert(1, 1500))
        await tx.unsafe(`rollback to savepoint first`)
        await tx.unsafe(insert(1501, 2500))
        await tx.unsafe(`savepoint kept`)
        await tx.unsafe(insert(2501, 3500))
        await tx.unsafe(`release savepoint kept`)
        await tx.unsafe(`savepoint outer_sp`)
        await tx.unsafe(insert(3501, 4500))
        await tx.unsafe(`savepoint inner_sp`)
        await tx.unsafe(insert(4501, 5500))
        await tx.unsafe(`release savepoint inner_sp`)
        await tx.unsafe(`savepoint innermost`)
        await tx.unsafe(insert(5501, 6500))
        await tx.unsafe(`rollback to savepoint outer_sp`) // rolls back 3501..6500, three subtransactions
        await tx.unsafe(`savepoint upd`)
        await tx.unsafe(`update ${table} set payload = 'rolled back' where id <= 2000`)
        await tx.unsafe(`rollback to savepoint upd`)
        await tx.unsafe(`delete from ${table} where id between 2401 and 2600`)
        await tx.unsafe(insert(6501, 7000))
      })
    })
    const records = result.streamed
    assertEquals(assertWholeTransactions(records).size, 1, 'one transaction')
    assert(streamedTransactions(result.logger).replayed.has(records[0]!.change.transactionId), 'streamed and replayed')
    const ids = (operation: string) => records.filter((r) => r.change.operation === operation).map((r) => r.change.values[0] as number)
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
    assertEquals(ids('INSERT'), [...range(1501, 3500), ...range(6501, 7000)], 'inserted rows: those of the top level and the released savepoint')
    assertEquals(ids('DELETE'), range(2401, 2600), 'deleted rows')
    assertEquals(ids('UPDATE'), [], 'no update survived its rollback')
  } finally {
    await sql.unsafe(`drop table if exists ${table}`)
    await sql.end()
  }
})

test('ALTER TABLE inside a streamed transaction (and in a rolled-back subtransaction): every record has the schema of its moment', async () => {
  await requireServer(14, 'streaming of in-progress transactions')
  const sql = sqlClient()
  const table = uniqueName('sd')
  try {
    await sql.unsafe(`create table ${table} (id int primary key, a text)`)
    const insert = (columns: string, values: string, from: number, to: number) =>
      `insert into ${table} (${columns}) select ${values} from generate_series(${from}, ${to}) g`
    const result = await compareWithUnstreamed(sql, [table], async () => {
      const big = await sql.reserve()
      try {
        await big`begin`
        await big.unsafe(`savepoint s0`) // the table's first change (and Relation) in a subtransaction that is rolled back
        await big.unsafe(insert('id, a', `g, ${PAYLOAD_SQL}`, 1, 1500))
        await big.unsafe(`rollback to savepoint s0`)
        await big.unsafe(insert('id, a', `g, ${PAYLOAD_SQL}`, 1501, 3000))
        // A concurrent transaction commits first, with the old schema (before the ALTER takes its lock).
        await sql.unsafe(`insert into ${table} values (100000, 'concurrent')`)
        await big.unsafe(`alter table ${table} add column b int default 7`)
        await big.unsafe(insert('id, a, b', `g, ${PAYLOAD_SQL}, g % 5`, 3001, 4500))
        await big.unsafe(`alter table ${table} alter column b type bigint`) // rewrites the table
        await big.unsafe(insert('id, a, b', `g, ${PAYLOAD_SQL}, g`, 4501, 5500))
        await big.unsafe(`savepoint s1`)
        await big.unsafe(`alter table ${table} add column c text default 'c'`)
        await big.unsafe(insert('id, a, b, c', `g, ${PAYLOAD_SQL}, 1, 'x'`, 5501, 6500))
        await big.unsafe(`rollback to savepoint s1`)
        await big.unsafe(insert('id, a, b', `g, 'short', 2`, 6501, 6600))
        await big`commit`
      } finally {
        big.release()
      }
      await sql.unsafe(`insert into ${table} values (200000, 'after', 9)`)
    })
    const records = result.streamed
    const blocks = [...assertWholeTransactions(records).values()]
    assertEquals(
      blocks.map((b) => b.length),
      [1, 1500 + 1500 + 1000 + 100, 1],
      'three transactions: concurrent, big, after',
    )
    const shape = (i: number) => `${records[i]!.change.values[0]}: ${records[i]!.change.fields.join(',')} ${records[i]!.change.types.join(',')}`
    assertEquals(shape(0), '100000: id,a integer,text', 'the concurrent transaction has the schema before the ALTER')
    assertEquals(shape(1), '1501: id,a integer,text', 'before the ALTER')
    assertEquals(shape(1500), '3000: id,a integer,text', 'last before the ALTER')
    assertEquals(shape(1501), '3001: id,a,b integer,text,integer', 'after ADD COLUMN b')
    assertEquals(shape(3001), '4501: id,a,b integer,text,bigint', 'after ALTER COLUMN b TYPE bigint')
    assertEquals(shape(4001), '6501: id,a,b integer,text,bigint', 'after the rolled-back ADD COLUMN c')
    assertEquals(shape(4101), '200000: id,a,b integer,text,bigint', 'the transaction after, with the committed schema')
    assert(
      records.every((r) => !r.change.fields.includes('c')),
      'no record has the rolled-back column c',
    )
    assert(streamedTransactions(result.logger).replayed.has(blocks[1]![0]!.change.transactionId), 'streamed and replayed')
  } finally {
    await sql.unsafe(`drop table if exists ${table}`)
    await sql.end()
  }
})
