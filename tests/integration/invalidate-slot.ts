/** @module Getting a slot invalidated (wal_status = lost) on a cluster of a test's own, started with SMALL_KEEP_SIZE. */
import type postgres from 'postgres'
import { waitFor } from './support.ts'

/** Settings for startFaultCluster: max_slot_wal_keep_size of 1MB keeps no whole WAL segment for a slot that falls behind. */
export const SMALL_KEEP_SIZE: readonly string[] = ['max_slot_wal_keep_size=1MB', 'wal_keep_size=0', 'max_wal_size=64MB', 'min_wal_size=32MB']

/** Writes WAL, switches segments and checkpoints until the server invalidates the slot (its restart_lsn must not advance meanwhile). */
export async function invalidateSlot(sql: postgres.Sql, slot: string): Promise<void> {
  await sql.unsafe('create table if not exists wal_filler (n int, pad text)')
  await waitFor(
    async () => {
      await sql.unsafe(`insert into wal_filler select g, repeat('x', 500) from generate_series(1, 2000) g`)
      await sql`select pg_switch_wal()`
      await sql`checkpoint`
      const [row] = await sql<{ status: string | null }[]>`select wal_status as status from pg_replication_slots where slot_name = ${slot}`
      return row?.status === 'lost'
    },
    60_000,
    `the server to invalidate slot ${slot}`,
  )
}
