/**
 * Restarting on the same slot: a clean stop resumes exactly after the confirmed position, and a
 * failed delivery leaves the slot behind the undelivered transaction so a restart re-sends it.
 */
import type postgres from 'postgres'
import { test } from '../harness.ts'
import { assert, assertEquals, assertRejects } from '../assert.ts'
import { formatLsn, parseLsn } from '../../src/pg/lsn.ts'
import { StreamWriter, type WriterRecord } from '../../src/writers/writer.ts'
import { dropSlot, sqlClient, startPipeline, TEST_URL, uniqueName, waitFor } from './support.ts'

interface Committed {
  readonly xid: number
  readonly rows: number
}

/** Commits one transaction inserting `rows` rows starting at `firstId`; returns its 32-bit xid. */
async function commitRows(sql: postgres.Sql, table: string, firstId: number, rows: number): Promise<Committed> {
  const xid = await sql.begin(async (tx) => {
    const [row] = await tx.unsafe<{ xid: string }[]>(`select (txid_current()::text::bigint % 4294967296)::text as xid`)
    await tx.unsafe(`insert into ${table} (id, note) select g, 'row ' || g || ' ✓ "quoted"' from generate_series($1::int, $2::int) g`, [
      firstId,
      firstId + rows - 1,
    ])
    return Number(row!.xid)
  })
  return { xid, rows }
}

async function slotState(sql: postgres.Sql, slot: string): Promise<{ confirmed: bigint; active: boolean }> {
  const [row] = await sql<
    { confirmed: string; active: boolean }[]
  >`select confirmed_flush_lsn::text as confirmed, active from pg_replication_slots where slot_name = ${slot}`
  assert(row, `slot ${slot} exists`)
  return { confirmed: parseLsn(row.confirmed), active: row.active }
}

async function waitInactive(sql: postgres.Sql, slot: string): Promise<void> {
  await waitFor(async () => !(await slotState(sql, slot)).active, 10_000, `slot ${slot} released`)
}

function byTransaction(records: readonly Record<string, unknown>[]): Map<number, Record<string, unknown>[]> {
  const map = new Map<number, Record<string, unknown>[]>()
  for (const r of records) {
    const xid = r.transaction_id as number
    map.set(xid, [...(map.get(xid) ?? []), r])
  }
  return map
}

/**
 * Keeps the records of one table (other sessions' logical messages reach every slot, whatever the
 * publication). Once `failWith` is set, a batch holding any of them is remembered and rejected.
 */
class TableWriter extends StreamWriter {
  readonly records: WriterRecord[] = []
  readonly attempted: WriterRecord[] = []
  failWith: Error | undefined

  constructor(readonly table: string) {
    super()
  }

  override async publish(records: readonly WriterRecord[]): Promise<void> {
    const mine = records.filter((r) => r.change.relation?.qualifiedName === `public.${this.table}`)
    if (this.failWith && mine.length > 0) {
      this.attempted.push(...mine)
      throw this.failWith
    }
    this.records.push(...mine)
  }

  parsed(): Record<string, unknown>[] {
    return this.records.map((r) => JSON.parse(new TextDecoder().decode(r.data)) as Record<string, unknown>)
  }
}

/** A waitFor check that fails at once with the pipeline's error if the run stopped. */
function streaming(run: ReturnType<typeof startPipeline>, check: () => boolean): () => boolean {
  let failure: unknown
  let stopped = false
  run.done.then(
    () => (stopped = true),
    (error: unknown) => (failure = error),
  )
  return () => {
    if (failure) throw failure
    if (stopped) throw new Error('the pipeline stopped early')
    return check()
  }
}

async function setUp(sql: postgres.Sql): Promise<{ table: string; slot: string; publication: string }> {
  const table = uniqueName('t')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  await sql.unsafe(`create table ${table} (id int primary key, note text)`)
  await sql.unsafe(`create publication ${publication} for table ${table}`)
  await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput')`
  return { table, slot, publication }
}

test('restart on the same slot resumes after the confirmed position: nothing missed, nothing re-sent', async () => {
  const sql = sqlClient()
  const { table, slot, publication } = await setUp(sql)
  const runs: ReturnType<typeof startPipeline>[] = []
  try {
    const postgresOptions = { url: TEST_URL, slot, publication, tables: [table], createSlot: false, createPublication: false }

    // Run 1: three transactions, all delivered, then a clean stop.
    const first = new TableWriter(table)
    const run1 = startPipeline({ postgres: postgresOptions, writer: first })
    runs.push(run1)
    const before: Committed[] = []
    before.push(await commitRows(sql, table, 1, 3))
    before.push(await commitRows(sql, table, 10, 1))
    before.push(await commitRows(sql, table, 20, 1500)) // spans two batches (maxRecords 1000)
    await waitFor(
      streaming(run1, () => first.records.length >= 1504),
      15_000,
      'run 1 records',
    )
    await run1.stop()
    await waitInactive(sql, slot)
    const confirmed1 = (await slotState(sql, slot)).confirmed

    // While stopped: more transactions.
    const during: Committed[] = []
    during.push(await commitRows(sql, table, 5000, 2))
    during.push(await commitRows(sql, table, 6000, 1200))
    during.push(await commitRows(sql, table, 8000, 1))

    // Run 2 on the same slot, plus one transaction committed while it streams.
    const second = new TableWriter(table)
    const run2 = startPipeline({ postgres: postgresOptions, writer: second })
    runs.push(run2)
    await waitFor(
      streaming(run2, () => second.records.length >= 1203),
      15_000,
      'run 2 records of the stopped period',
    )
    during.push(await commitRows(sql, table, 9000, 4))
    await waitFor(
      streaming(run2, () => second.records.length >= 1207),
      15_000,
      'run 2 records',
    )
    await new Promise((resolve) => setTimeout(resolve, 200)) // anything extra (a re-send) would arrive now
    await run2.stop()
    await waitInactive(sql, slot)

    const r1 = first.parsed()
    const r2 = second.parsed()
    // Run 1 got exactly its transactions, each complete, all before the confirmed position.
    const t1 = byTransaction(r1)
    assertEquals(
      [...t1.keys()],
      before.map((t) => t.xid),
      'run 1 transactions, in commit order',
    )
    for (const t of before) assertEquals(t1.get(t.xid)!.length, t.rows, `run 1 rows of xid ${t.xid}`)
    for (const r of r1) assert(parseLsn(r.lsn as string) < confirmed1, `run 1 record ${r.id as string} lies before the confirmed position`)
    // Run 2 got exactly the later ones: nothing of run 1 again, nothing missed.
    const t2 = byTransaction(r2)
    assertEquals(
      [...t2.keys()],
      during.map((t) => t.xid),
      'run 2 transactions, in commit order',
    )
    for (const t of during) assertEquals(t2.get(t.xid)!.length, t.rows, `run 2 rows of xid ${t.xid}`)
    for (const r of r2) assert(parseLsn(r.lsn as string) >= confirmed1, `run 2 record ${r.id as string} lies at or after run 1's confirmed position`)
    const ids1 = new Set(r1.map((r) => r.id))
    assert(
      r2.every((r) => !ids1.has(r.id)),
      'no record id of run 1 was sent again',
    )
    assertEquals(new Set([...r1, ...r2].map((r) => r.id)).size, r1.length + r2.length, 'record ids are unique')
    const ids = [...r1, ...r2].map((r) => (r.values as number[])[0]!).sort((a, b) => a - b)
    const [{ all }] = (await sql.unsafe(`select array_agg(id order by id) as all from ${table}`)) as unknown as [{ all: number[] }]
    assertEquals(ids, all, 'every committed row arrived exactly once')
    console.log(
      `     run 1: ${r1.length} records in ${t1.size} transactions, slot confirmed at ${formatLsn(confirmed1)}; run 2: ` +
        `${r2.length} records in ${t2.size} transactions`,
    )
    await dropSlot(sql, slot)
  } finally {
    await Promise.all(runs.map((run) => run.stop().catch(() => {})))
    await dropSlot(sql, slot).catch(() => {})
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${publication}`)
    await sql.end()
  }
})

test('a rejected publish fails the pipeline with that error, leaves the slot behind it, and a restart re-delivers it identically', async () => {
  const sql = sqlClient()
  const { table, slot, publication } = await setUp(sql)
  const runs: ReturnType<typeof startPipeline>[] = []
  await sql.unsafe(`alter table ${table} add column amount numeric, add column at timestamptz, add column doc jsonb, add column raw bytea`)
  try {
    const postgresOptions = { url: TEST_URL, slot, publication, tables: [table], createSlot: false, createPublication: false }
    const writer = new TableWriter(table)
    let lastFlushed = 0n
    const run1 = startPipeline({ postgres: postgresOptions, writer, onFlushed: (lsn) => (lastFlushed = lsn) })
    runs.push(run1)
    const delivered = await commitRows(sql, table, 1, 5)
    await waitFor(
      streaming(run1, () => writer.records.length >= 5),
      15_000,
      'first transaction delivered',
    )
    await waitFor(() => lastFlushed > 0n, 5_000, 'first transaction confirmed')
    const confirmedDelivered = lastFlushed

    const failure = new Error('broker unavailable (injected by the test)')
    writer.failWith = failure
    const undelivered = await sql.begin(async (tx) => {
      const [row] = await tx.unsafe<{ xid: string }[]>(`select (txid_current()::text::bigint % 4294967296)::text as xid`)
      await tx.unsafe(
        `insert into ${table} (id, note, amount, at, doc, raw) values
           (100, 'ünïcødé ✓ "q" \\ back', 12345678901234567890.000000001, '2024-02-29 23:59:59.999999+05:30', '{"b":[1,2.50,null],"a":"x"}', '\\x00ff10'),
           (101, null, -0.5, 'infinity', 'null', ''),
           (102, repeat('long ', 5000), 'NaN', '1999-01-08 04:05:06 BC', '[]', null)`,
      )
      await tx.unsafe(`update ${table} set note = 'changed' where id = 1`)
      await tx.unsafe(`delete from ${table} where id = 2`)
      return Number(row!.xid)
    })
    const failedAt = Date.now()
    const error = await assertRejects(() => run1.done, 'broker unavailable')
    const rejectMs = Date.now() - failedAt
    assert(error === failure, "the pipeline rejects with the writer's own error")
    assert(rejectMs < 5_000, `the pipeline rejected promptly (took ${rejectMs} ms)`)
    assertEquals(writer.attempted.length, 5, 'the undelivered transaction was attempted')
    assert(
      writer.attempted.every((r) => r.change.transactionId === undelivered),
      'attempted records are the undelivered transaction',
    )
    const undeliveredLsn = writer.attempted[0]!.change.commitLsn

    await waitInactive(sql, slot)
    const { confirmed } = await slotState(sql, slot)
    assert(confirmed >= confirmedDelivered, 'the delivered transaction stays confirmed')
    assert(confirmed <= undeliveredLsn, `confirmed_flush_lsn ${formatLsn(confirmed)} did not advance past the undelivered commit ${formatLsn(undeliveredLsn)}`)

    // Restart: the undelivered transaction comes again, same ids, byte-identical records; the delivered one does not.
    const again = new TableWriter(table)
    const run2 = startPipeline({ postgres: postgresOptions, writer: again })
    runs.push(run2)
    await waitFor(
      streaming(run2, () => again.records.length >= 5),
      15_000,
      're-delivered records',
    )
    await new Promise((resolve) => setTimeout(resolve, 200))
    await run2.stop()
    assertEquals(
      again.records.map((r) => r.change.id),
      writer.attempted.map((r) => r.change.id),
      'same record ids',
    )
    const text = (record: WriterRecord) => new TextDecoder().decode(record.data)
    for (let i = 0; i < again.records.length; i++) {
      const [resent, first] = [text(again.records[i]!), text(writer.attempted[i]!)]
      assert(resent === first, `record ${again.records[i]!.change.id} is byte-identical:\n${resent}\n${first}`)
    }
    assert(
      again.records.every((r) => r.change.transactionId !== delivered.xid),
      'the delivered transaction was not re-sent',
    )
    console.log(
      `     rejected after ${rejectMs} ms; slot confirmed at ${formatLsn(confirmed)} <= undelivered commit ${formatLsn(undeliveredLsn)}; ` +
        `re-delivered ${again.records.length} byte-identical records`,
    )
    await dropSlot(sql, slot)
  } finally {
    await Promise.all(runs.map((run) => run.stop().catch(() => {})))
    await dropSlot(sql, slot).catch(() => {})
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${publication}`)
    await sql.end()
  }
})
