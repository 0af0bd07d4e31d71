/**
 * @module Snapshots inside the pipeline: the initial copy, read through the snapshot the new slot
 * exported, before streaming; and incremental snapshots beside the stream, whose chunks the
 * stream delivers at their high watermarks.
 */
import type postgres from 'postgres'
import type { Change } from '../change/change.ts'
import type { RecordFormat } from '../change/formats/format.ts'
import { PgToBrokersError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { connectionSettings, openConnection } from '../pg/connect.ts'
import { formatLsn, parseLsn, type Lsn } from '../pg/lsn.ts'
import { OUTPUT_SETTINGS, ReplicationConnection } from '../pg/replication.ts'
import { DurablePosition } from '../snapshot/durable-position.ts'
import { runIncrementalSnapshots } from '../snapshot/incremental.ts'
import { requestInitialSnapshot, runInitialSnapshot } from '../snapshot/initial.ts'
import { DEFAULT_SNAPSHOT_OPTIONS, type SnapshotOptions } from '../snapshot/options.ts'
import { createProgressDisplay, type ProgressDisplay } from '../snapshot/progress-display.ts'
import type { PipelineMetrics } from '../ops/pipeline-metrics.ts'
import { SnapshotProgressStore, snapshotTableOf, type SnapshotRequest } from '../snapshot/progress-store.ts'
import { SnapshotWindows } from '../snapshot/watermark-window.ts'
import type { StreamWriter, WriterRecord } from '../writers/writer.ts'
import { Batcher, type BatchOptions } from './batcher.ts'
import type { SlotCreation } from './slot.ts'
import { stateTableOf, type SlotOptions } from './slot.ts'

/** What the snapshot parts of the pipeline need from its options. */
export interface SnapshotContext {
  readonly url: string
  readonly connectTimeoutMs: number
  readonly slotOptions: SlotOptions
  readonly publication: string
  readonly tables: readonly string[]
  readonly snapshot: SnapshotOptions
  readonly writer: StreamWriter
  readonly format: RecordFormat
  readonly batch: BatchOptions
  readonly logger: Logger
  readonly signal?: AbortSignal | undefined
  /** Told of snapshot progress (rows per table) and of the initial snapshot's batches. */
  readonly metrics?: PipelineMetrics | undefined
}

/** A slot created with its snapshot exported; the snapshot lives while `connection` stays open and idle. */
export interface ExportedSlot {
  readonly connection: ReplicationConnection
  readonly lsn: Lsn
  readonly snapshotName: string
  /** The tables' requests, recorded before the slot was created. */
  readonly requests: readonly SnapshotRequest[]
}

/** The settings, with defaults, of a pipeline's snapshots. */
export function snapshotOptionsOf(snapshot: Partial<SnapshotOptions> | undefined): SnapshotOptions {
  return { ...DEFAULT_SNAPSHOT_OPTIONS, ...snapshot }
}

/**
 * With an initial snapshot to take, the slot is created on a replication connection that exports
 * its snapshot (kept in `holder`); `when_needed` also replaces a lost slot, as the copy recovers it.
 */
export function exportingSlotCreation(context: SnapshotContext, holder: { exported?: ExportedSlot }): SlotCreation | undefined {
  const mode = context.snapshot.mode
  if (mode !== 'initial' && mode !== 'when_needed') return undefined
  return {
    recreateLost: mode === 'when_needed',
    create: async (slot) => {
      holder.exported = await createExportingSlot(context, slot, false)
      return formatLsn(holder.exported.lsn)
    },
  }
}

/**
 * `initial_only`: the tables copied once, as of one moment, through a temporary slot that exports
 * its snapshot and goes away with its connection; nothing is streamed and no slot is left behind.
 * An interrupted copy starts over at the next run.
 */
export async function copyTablesOnce(context: SnapshotContext): Promise<void> {
  const exported = await createExportingSlot(context, `${context.slotOptions.slot.slice(0, 58)}_copy`, true)
  try {
    await runInitialPhase(context, exported)
  } finally {
    await exported.connection.close()
  }
}

/** Records the tables' requests, then creates the slot exporting its snapshot. */
async function createExportingSlot(context: SnapshotContext, slot: string, temporary: boolean): Promise<ExportedSlot> {
  const sql = await openSnapshotConnections(context, 1)
  let requests: SnapshotRequest[]
  try {
    const stateTable = stateTableOf(context.slotOptions)
    const store = new SnapshotProgressStore(sql, stateTable)
    await store.ensure()
    requests = await requestInitialSnapshot(sql, store, {
      slot: context.slotOptions.slot,
      publication: context.publication,
      tables: context.snapshot.tables ?? context.tables,
      excluded: [stateTable, snapshotTableOf(stateTable)],
    })
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {})
  }
  const connection = await ReplicationConnection.open(context.url, context.connectTimeoutMs)
  try {
    const created = await connection.createSlotExportingSnapshot(slot, temporary)
    return { connection, lsn: parseLsn(created.lsn), snapshotName: created.snapshotName, requests }
  } catch (error) {
    await connection.close()
    throw error
  }
}

/**
 * Before PostgreSQL 14 nothing can finish an interrupted or requested snapshot while streaming:
 * streaming on would leave its rows out silently, so it stops with the way out instead.
 * @throws PgToBrokersError 'snapshot_unsupported' when the slot has unfinished snapshots.
 */
export async function refuseUnfinishedSnapshots(context: SnapshotContext): Promise<undefined> {
  const sql = await openSnapshotConnections(context, 1)
  try {
    const pending = await new SnapshotProgressStore(sql, stateTableOf(context.slotOptions)).pending(context.slotOptions.slot)
    if (pending.length === 0) return undefined
    throw new PgToBrokersError(
      'snapshot_unsupported',
      `the slot "${context.slotOptions.slot}" has unfinished snapshots (${pending.map((r) => r.table).join(', ')}), which only PostgreSQL 14 or later ` +
        'can finish while streaming. Either cancel them (pg-to-brokers snapshot --cancel) and accept that those rows are missing, or drop the slot ' +
        'and start again with --snapshot-mode initial to copy the tables again',
    )
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {})
  }
}

/** Connections for reading chunks and storing progress, with the replication connection's output settings (the same value text). */
export async function openSnapshotConnections(context: Pick<SnapshotContext, 'url' | 'connectTimeoutMs'>, count: number): Promise<postgres.Sql> {
  // synchronous_commit local: a watermark's commit must reach the WAL at once, but need not wait for standbys.
  const settings = { ...OUTPUT_SETTINGS, synchronous_commit: 'local' }
  return await openConnection(connectionSettings(context.url), context.connectTimeoutMs, 'pg_to_brokers_snapshot', settings, count)
}

/**
 * The initial snapshot, through its own batcher: each chunk is committed at a position of its own
 * (1, 2, …; these never reach the server), so its progress is stored once that position is durable.
 * Resolves when every record is durable.
 */
export async function runInitialPhase(context: SnapshotContext, exported: ExportedSlot): Promise<void> {
  const sql = await openSnapshotConnections(context, context.snapshot.parallelTables + 1)
  const durable = new DurablePosition()
  const batcher = new Batcher(
    context.writer,
    context.batch,
    (position) => durable.markFlushed(position),
    (error) => durable.fail(error),
    context.metrics,
  )
  const progress = watchedProgress(context)
  let chunks = 0n
  const deliver = async (changes: readonly Change[]): Promise<Promise<void>> => {
    for (const change of changes) {
      const pending = batcher.add(recordOf(context, change))
      if (pending) await pending
    }
    const position = ++chunks
    batcher.commit(position)
    return durable.after(position - 1n)
  }
  try {
    const store = new SnapshotProgressStore(sql, stateTableOf(context.slotOptions))
    await runInitialSnapshot(
      {
        sql,
        snapshotName: exported.snapshotName,
        lsn: exported.lsn,
        store,
        publication: context.publication,
        chunkSize: context.snapshot.chunkSize,
        parallelTables: context.snapshot.parallelTables,
        deliver,
        progress,
        logger: context.logger,
        signal: context.signal,
      },
      exported.requests,
    )
    await batcher.drain()
  } catch (error) {
    await batcher.abandon()
    throw error
  } finally {
    progress.close()
    await sql.end({ timeout: 1 }).catch(() => {})
  }
}

/** Incremental snapshots beside one replication stream: started with it, stopped with it. */
export class StreamSnapshots {
  readonly windows = new SnapshotWindows()
  readonly durable = new DurablePosition()
  readonly #context: SnapshotContext
  #sql: postgres.Sql | undefined
  #running: Promise<void> | undefined
  readonly #stop = new AbortController()
  readonly #progress: ProgressDisplay

  constructor(context: SnapshotContext) {
    this.#context = context
    this.#progress = watchedProgress(context)
  }

  /**
   * Starts taking requests. The progress table is not created here: a role that may not create it
   * streams as before, and the snapshot command creates it when a snapshot is first asked for.
   */
  async start(): Promise<void> {
    const context = this.#context
    // postgres.js connects on first use: one connection polls; the others open when a snapshot runs.
    const sql = await openSnapshotConnections(context, context.snapshot.parallelTables + 1)
    this.#sql = sql
    const store = new SnapshotProgressStore(sql, stateTableOf(context.slotOptions))
    this.#running = runIncrementalSnapshots({
      sql,
      store,
      windows: this.windows,
      durable: this.durable,
      slot: context.slotOptions.slot,
      publication: context.publication,
      chunkSize: context.snapshot.chunkSize,
      parallelTables: context.snapshot.parallelTables,
      progress: this.#progress,
      logger: context.logger,
      signal: this.#stop.signal,
    })
  }

  /** Ends every wait (the stream will deliver nothing more), lets chunks in flight settle, closes the connections. */
  async stop(reason: Error): Promise<void> {
    this.#stop.abort()
    this.windows.abandon(reason)
    this.durable.fail(reason)
    await this.#running
    this.#progress.close()
    await this.#sql?.end({ timeout: 1 }).catch(() => {})
  }
}

function recordOf(context: Pick<SnapshotContext, 'format' | 'writer'>, change: Change): WriterRecord {
  return { change, data: context.format.encode(change), partitionKey: context.writer.assignChangeToPartitionKey(change) }
}

/** The progress display, with the metrics told of the same progress. */
function watchedProgress(context: SnapshotContext): ProgressDisplay {
  const display = createProgressDisplay(context.snapshot.progress, context.logger)
  return context.metrics?.watchSnapshot(display) ?? display
}
