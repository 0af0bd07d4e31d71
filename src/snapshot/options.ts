/** @module The settings of snapshots: when the initial one runs, how big a chunk is, how many tables at once, how progress shows. */

/**
 * When the initial snapshot runs: `never` (only changes are streamed), `initial` (the tables
 * first, then the stream), `initial_only` (the tables, then stop), `when_needed` (when there is no
 * slot yet, or the slot was lost).
 */
export type SnapshotMode = 'never' | 'initial' | 'initial_only' | 'when_needed'

/** How progress shows: `bar` redraws one line on a terminal, `lines` logs every 10 s, `auto` picks by whether stderr is a terminal. */
export type SnapshotProgressMode = 'auto' | 'bar' | 'lines' | 'off'

export interface SnapshotOptions {
  readonly mode: SnapshotMode
  /** Rows read per chunk (one read transaction, one pair of watermarks). */
  readonly chunkSize: number
  /** How many tables are read at the same time. */
  readonly parallelTables: number
  /** Tables of the initial snapshot (`table` or `schema.table`); undefined: the configured tables, or every published table. */
  readonly tables?: readonly string[] | undefined
  readonly progress: SnapshotProgressMode
}

export const SNAPSHOT_MODES: readonly SnapshotMode[] = ['never', 'initial', 'initial_only', 'when_needed']
export const SNAPSHOT_PROGRESS_MODES: readonly SnapshotProgressMode[] = ['auto', 'bar', 'lines', 'off']

/** Limits of chunkSize and parallelTables, shared by the configuration check. */
export const SNAPSHOT_CHUNK_SIZE = { min: 1, max: 1_000_000, default: 4096 } as const
export const SNAPSHOT_PARALLEL_TABLES = { min: 1, max: 16, default: 1 } as const

/** The settings when none are given: no initial snapshot. */
export const DEFAULT_SNAPSHOT_OPTIONS: SnapshotOptions = {
  mode: 'never',
  chunkSize: SNAPSHOT_CHUNK_SIZE.default,
  parallelTables: SNAPSHOT_PARALLEL_TABLES.default,
  progress: 'auto',
}
