/**
 * @module Shared by the snapshot crash and broker tests: a table of `(id, v, n)` rows, a concurrent
 * INSERT/UPDATE/DELETE load on it, a consumer that applies records in order (checking that a
 * snapshot row never contradicts what it already holds), the comparison with the table, and the
 * slot's snapshot requests.
 */
import type postgres from 'postgres'
import { sleep } from './process.ts'
import { sqlClient, waitFor } from './support.ts'

/** Creates `table (id int primary key, v text, n int)` with rows 1..`rows` and analyzes it (for the progress estimate). */
export async function createSnapshotTable(sql: postgres.Sql, table: string, rows: number): Promise<void> {
  await sql.unsafe(`create table ${table} (id int primary key, v text, n int not null)`)
  await sql.unsafe(`insert into ${table} select g, md5(g::text), 0 from generate_series(1, ${rows}) g`)
  await sql.unsafe(`analyze ${table}`)
}

export interface Load {
  /** Stops after the transaction in flight; resolves with how many transactions were committed. */
  stop(): Promise<number>
  /** Ids of the first `rows` that an UPDATE or DELETE touched (committed or not). */
  readonly touched: ReadonlySet<number>
  readonly error: unknown
}

export interface LoadOptions {
  /** Longest pause between transactions, ms. */
  readonly paceMs?: number
  /**
   * Aim half of the UPDATEs and DELETEs just past the last stored key of this slot's active
   * snapshot (the next `width` ids), where the chunk being read is: rows overtaken inside a
   * window then happen in every run, not by chance.
   */
  readonly hot?: { readonly slot: string; readonly width: number }
}

/**
 * Transactions of 1 to 4 statements, on a connection of its own, until stopped: 55% UPDATE (n + 1,
 * a new v), 20% DELETE of an original row, 25% INSERT of a new id above `rows`.
 */
export function startLoad(table: string, rows: number, random: () => number, options: LoadOptions = {}): Load {
  const sql = sqlClient()
  let running = true
  let next = rows + 1
  let committed = 0
  const touched = new Set<number>()
  const state: { error: unknown } = { error: undefined }
  const hot = hotKey(sql, options.hot)
  const original = () => {
    const base = hot.current()
    if (base === undefined || random() < 0.5) return 1 + Math.floor(random() * rows)
    return Math.min(rows, base + 1 + Math.floor(random() * options.hot!.width))
  }
  const loop = (async () => {
    while (running) {
      const statements = 1 + Math.floor(random() * 4)
      await sql.begin(async (tx) => {
        for (let i = 0; i < statements; i++) {
          const [id, choice] = [original(), random()]
          if (choice >= 0.75) {
            await tx.unsafe(`insert into ${table} values (${next++}, md5(random()::text), 0)`)
            continue
          }
          touched.add(id)
          if (choice < 0.55) await tx.unsafe(`update ${table} set n = n + 1, v = md5(random()::text) where id = ${id}`)
          else await tx.unsafe(`delete from ${table} where id = ${id}`)
        }
      })
      committed++
      await hot.refresh()
      await sleep(random() * (options.paceMs ?? 4))
    }
  })().catch((error: unknown) => void (state.error = error))
  return {
    touched,
    get error() {
      return state.error
    },
    stop: async () => {
      running = false
      await loop
      await sql.end()
      if (state.error) throw state.error
      return committed
    },
  }
}

/** The last stored key of the slot's active snapshot, read at most every 50 ms. */
function hotKey(sql: postgres.Sql, hot: LoadOptions['hot']): { current: () => number | undefined; refresh: () => Promise<void> } {
  let key: number | undefined
  let readAt = 0
  return {
    current: () => key,
    refresh: async () => {
      if (hot === undefined || Date.now() - readAt < 50) return
      readAt = Date.now()
      const active = (await snapshotsOf(sql, hot.slot)).find((p) => p.status === 'running')
      key = active === undefined ? undefined : Number(active.lastKey?.[0] ?? 0)
    },
  }
}

/** One record as the default (classic) format writes it, reduced to what applying it needs. */
export interface AppliedRecord {
  readonly id: string
  readonly operation: string
  readonly table: string
  readonly values: readonly unknown[]
}

/**
 * A consumer applying records in order: READ, INSERT and UPDATE set the row by its id, DELETE
 * removes it. A READ of a row it holds (or deleted) must show that row as it holds it: a snapshot
 * row is delivered after every change that preceded its read, so a differing one is a conflict.
 */
export class Replica {
  /** id → "v|n", or null once deleted. */
  readonly rows = new Map<number, string | null>()
  readonly conflicts: string[] = []

  apply(record: AppliedRecord): void {
    const id = Number(record.values[0])
    if (record.operation === 'DELETE') {
      this.rows.set(id, null)
      return
    }
    const row = `${String(record.values[1])}|${String(record.values[2])}`
    if (record.operation === 'READ' && this.rows.has(id) && this.rows.get(id) !== row) {
      this.conflicts.push(`${record.id}: read ${JSON.stringify(row)} where the records before it left ${JSON.stringify(this.rows.get(id))}`)
    }
    this.rows.set(id, row)
  }

  /** The rows it holds now (deleted ones left out). */
  present(): Map<number, string> {
    const present = new Map<number, string>()
    for (const [id, row] of this.rows) if (row !== null) present.set(id, row)
    return present
  }
}

/**
 * Compares `expected` (id → "v|n") with the table, reading it in id order through a cursor.
 * @throws AssertionError-like Error naming a few missing, extra and differing ids.
 */
export async function assertEqualsTable(sql: postgres.Sql, table: string, expected: ReadonlyMap<number, string>): Promise<number> {
  const missing: number[] = []
  const differing: string[] = []
  const seen = new Set<number>()
  await sql.unsafe<{ id: number; v: string; n: number }[]>(`select id, v, n from ${table} order by id`).cursor(5000, (rows) => {
    for (const row of rows) {
      seen.add(row.id)
      const got = expected.get(row.id)
      if (got === undefined) missing.push(row.id)
      else if (got !== `${row.v}|${row.n}`) differing.push(`${row.id}: consumer ${got}, table ${row.v}|${row.n}`)
    }
  })
  const extra = [...expected.keys()].filter((id) => !seen.has(id))
  if (missing.length + extra.length + differing.length > 0) {
    throw new Error(
      `the consumer's rows differ from the table (${seen.size} rows): ${missing.length} missing (e.g. ${missing.slice(0, 5).join(', ')}), ` +
        `${extra.length} extra (e.g. ${extra.slice(0, 5).join(', ')}), ${differing.length} differing (e.g. ${differing.slice(0, 3).join('; ')})`,
    )
  }
  return seen.size
}

/** A row of pg_to_brokers_snapshots. */
export interface SnapshotProgress {
  readonly id: string
  readonly kind: string
  readonly status: string
  readonly lastKey: string[] | null
  readonly rowsDone: number
}

/** The slot's snapshot requests, oldest first (none while the table does not exist yet). */
export async function snapshotsOf(sql: postgres.Sql, slot: string): Promise<SnapshotProgress[]> {
  const [exists] = await sql<{ found: boolean }[]>`select to_regclass('public.pg_to_brokers_snapshots') is not null as found`
  if (!exists?.found) return []
  const rows = await sql<{ id: string; kind: string; status: string; last_key: string | null; rows_done: string }[]>`
    select id::text, kind, status, last_key::text, rows_done::text from public.pg_to_brokers_snapshots where slot = ${slot} order by id`
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    status: r.status,
    lastKey: r.last_key === null ? null : (JSON.parse(r.last_key) as string[]),
    rowsDone: Number(r.rows_done),
  }))
}

/** Waits until the slot confirmed everything written so far (a little WAL now and then lets keepalives carry it past an idle end). */
export async function waitConfirmedPastNow(sql: postgres.Sql, slot: string, timeoutMs = 120_000, alive: () => void = () => {}): Promise<void> {
  const [row] = await sql<{ lsn: string }[]>`select pg_current_wal_insert_lsn()::text as lsn`
  let nudged = Date.now()
  await waitFor(
    async () => {
      alive()
      if (Date.now() - nudged > 1000) (nudged = Date.now()), await sql`select txid_current()`
      return (await sql`select 1 from pg_replication_slots where slot_name = ${slot} and confirmed_flush_lsn >= ${row!.lsn}::pg_lsn`).length > 0
    },
    timeoutMs,
    `slot ${slot} to confirm up to ${row!.lsn}`,
  )
}
