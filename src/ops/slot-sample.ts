/** @module What the server says of the slot at one moment: shared by lag alarms, metrics and the status command. */
import type { Lsn } from '../pg/lsn.ts'

export interface SlotSample {
  /** When it was read (ms since the epoch). */
  readonly at: number
  /** The server's current WAL position (pg_current_wal_lsn). */
  readonly walLsn: Lsn
  /** The slot's confirmed flush position; null when the slot has none yet. */
  readonly confirmedFlushLsn: Lsn | null
  /** WAL the slot holds back from removal: walLsn − restart_lsn, in bytes. */
  readonly retainedBytes: number
  /** walLsn − confirmedFlushLsn, in bytes. */
  readonly lagBytes: number
  /** pg_replication_slots.wal_status (PostgreSQL ≥ 13): reserved, extended, unreserved or lost; null before 13. */
  readonly walStatus: string | null
  /** pg_replication_slots.safe_wal_size in bytes (PostgreSQL ≥ 13); null when unlimited or before 13. */
  readonly safeWalSizeBytes: number | null
}
