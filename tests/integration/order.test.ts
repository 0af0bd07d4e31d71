/**
 * Commit order with concurrent transactions: inserts interleaved across several open transactions
 * (with savepoints, one rolled back) arrive grouped per transaction, whole and contiguous, in
 * commit order (not begin order), with increasing commit LSNs and ordinals 0..n-1.
 */
import postgres from 'postgres'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { parseLsn } from '../../src/pg/lsn.ts'
import { CollectingWriter, dropSlot, sqlClient, startPipeline, TEST_URL, uniqueName, waitFor, waitForStreaming } from './support.ts'

test('interleaved concurrent transactions arrive whole, in commit order', async () => {
  const sql = sqlClient()
  const workers = postgres(TEST_URL, { max: 5, onnotice: () => {}, idle_timeout: 5 })
  const table = uniqueName('order')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  let run: { stop: () => Promise<void> } | undefined
  try {
    await sql.unsafe(`create table ${table} (id int primary key, tx text not null, seq int not null)`)
    const writer = new CollectingWriter()
    run = startPipeline({ postgres: { url: TEST_URL, slot, publication, tables: [table], createSlot: true, createPublication: true }, writer })
    await waitForStreaming(sql, slot)

    const names = ['a', 'b', 'c', 'd', 'e'] as const
    type Name = (typeof names)[number]
    const conns = new Map<Name, postgres.ReservedSql>()
    const xids = new Map<Name, number>()
    // Begin in order a..e; each transaction gets its xid at once, so xids follow begin order.
    for (const name of names) {
      const conn = await workers.reserve()
      conns.set(name, conn)
      await conn`begin`
      const [row] = await conn<{ xid: string }[]>`select txid_current()::text as xid`
      xids.set(name, Number(BigInt(row!.xid) & 0xffffffffn))
    }
    let nextId = 1
    const inserted = new Map<Name, number[]>(names.map((n) => [n, []]))
    const insert = async (name: Name, kept = true): Promise<void> => {
      const id = nextId++
      await conns.get(name)!.unsafe(`insert into ${table} values ($1, $2, $3)`, [id, name, inserted.get(name)!.length])
      if (kept) inserted.get(name)!.push(id)
    }
    // Interleave: every round touches each transaction, in a different order each time.
    await insert('a')
    await insert('b')
    await insert('c')
    await insert('d')
    await insert('e')
    await insert('c')
    await insert('a')
    await insert('e')
    await insert('b')
    await conns.get('a')!`savepoint s1`
    await insert('a', false)
    await insert('c')
    await conns.get('a')!`rollback to savepoint s1`
    await insert('e')
    await insert('a')
    await conns.get('c')!`savepoint s2`
    await insert('c')
    await insert('e')
    await conns.get('c')!`release savepoint s2`

    // Commit in an order unrelated to begin order; e rolls back. Mark the WAL insert position after
    // each (the insert, not the write position: the test cluster runs with synchronous_commit=off).
    const commitOrder: Name[] = ['c', 'a', 'd', 'b']
    const [start] = await sql<{ lsn: string }[]>`select pg_current_wal_insert_lsn()::text as lsn`
    const marks = [parseLsn(start!.lsn)]
    for (const name of commitOrder) {
      await conns.get(name)!`commit`
      const [mark] = await sql<{ lsn: string }[]>`select pg_current_wal_insert_lsn()::text as lsn`
      marks.push(parseLsn(mark!.lsn))
    }
    await conns.get('e')!`rollback`
    for (const conn of conns.values()) conn.release()

    const expectedCount = commitOrder.reduce((sum, n) => sum + inserted.get(n)!.length, 0)
    assertEquals(expectedCount, 10, 'test setup: 10 committed rows')
    await waitFor(() => writer.records.length >= expectedCount, 15_000, `${expectedCount} records`)
    // A sentinel committed after the rollback: once it arrives, everything before it was decoded.
    await sql.unsafe(`insert into ${table} values (1000, 'z', 0)`)
    await waitFor(() => writer.records.length >= expectedCount + 1, 15_000, 'the sentinel record')
    await run.stop()

    const records = writer.records
    assertEquals(records.length, expectedCount + 1, 'nothing from the rolled-back transaction or the savepoint')
    // Expected: each committed transaction whole and contiguous, in commit order.
    const expected = commitOrder.flatMap((name) => inserted.get(name)!.map((id, seq) => ({ name, id, seq })))
    let position = 0
    let previousLsn = -1n
    for (const [k, name] of commitOrder.entries()) {
      const group = records.slice(position, position + inserted.get(name)!.length)
      const lsn = group[0]!.change.commitLsn
      for (const [ordinal, record] of group.entries()) {
        const want = expected[position + ordinal]!
        const c = record.change
        assertEquals(c.operation, 'INSERT', `${name} #${ordinal}`)
        assertEquals(c.values, [want.id, want.name, want.seq], `${name} #${ordinal} values`)
        assertEquals(c.transactionId, xids.get(name)!, `${name} #${ordinal} xid`)
        assertEquals(c.ordinal, ordinal, `${name} ordinal`)
        assertEquals(c.commitLsn, lsn, `${name} #${ordinal} shares its transaction's commit LSN`)
        const parsed = JSON.parse(new TextDecoder().decode(record.data)) as { id: string; lsn: string; transaction_id: number }
        assertEquals(parsed.id, `${parsed.lsn}:${ordinal}`, `${name} #${ordinal} id`)
        assertEquals(parseLsn(parsed.lsn), lsn, `${name} #${ordinal} record lsn`)
        assertEquals(parsed.transaction_id, xids.get(name)!, `${name} #${ordinal} record transaction_id`)
      }
      // The commit LSN lies between the WAL positions read just before and just after its COMMIT.
      assert(marks[k]! <= lsn && lsn < marks[k + 1]!, `${name}: commit LSN ${lsn} within [${marks[k]}, ${marks[k + 1]})`)
      assert(lsn > previousLsn, `${name}: commit LSNs increase across transactions`)
      previousLsn = lsn
      position += group.length
    }
    // Begin order was a, b, c, d; commit order wins.
    assertEquals(
      [...new Set(records.slice(0, expectedCount).map((r) => r.change.transactionId))],
      commitOrder.map((n) => xids.get(n)!),
    )
    assert(records[expectedCount]!.change.commitLsn > previousLsn, 'the sentinel commits last')
  } finally {
    // Also after a failure: end open transactions, stop the pipeline so that the slot can go, drop everything.
    await workers.end({ timeout: 0 })
    await run?.stop().catch(() => {})
    await dropSlot(sql, slot)
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${publication}`)
    await sql.end()
  }
})
