/**
 * @module The pipeline, top to bottom: replication stream → pgoutput receiver (in-progress
 * transactions the server streams are spooled to disk until they commit) → change model →
 * batcher → writer → checkpoint (LSN confirmed only after delivery).
 */
import { TransactionAssembler, type ChangeSink } from '../change/assemble.ts'
import { ChangeReceiver } from '../change/receive.ts'
import { SpoolDirectory } from '../change/streamed/spool-directory.ts'
import type { RecordFormat } from '../change/formats/format.ts'
import { SeedFormat } from '../change/formats/seed.ts'
import { Catalog } from '../pg/catalog.ts'
import { formatLsn, type Lsn } from '../pg/lsn.ts'
import { checkServerSupports, ReplicationConnection } from '../pg/replication.ts'
import { isXLogData, readKeepalive, XLOG_DATA_HEADER } from '../pg/replication-frames.ts'
import type { Change } from '../change/change.ts'
import { temporaryDirectory } from '../runtime/io.ts'
import type { StreamWriter } from '../writers/writer.ts'
import { Batcher, DEFAULT_BATCH_OPTIONS, type BatchOptions } from './batcher.ts'
import { Checkpoint } from './checkpoint.ts'
import { ProgressLog } from './progress-log.ts'
import { Heartbeat, HEARTBEAT_PREFIX } from '../ops/heartbeat.ts'
import { silentLogger, type Logger } from '../logger.ts'
import { preparePublication, prepareSource, type SourceOptions } from './prepare.ts'
import { forgetSlot, noteConfirmed, stateTableOf } from './slot.ts'
import type { SnapshotOptions } from '../snapshot/options.ts'
import { snapshotTableOf } from '../snapshot/progress-store.ts'
import { waitForSlotLease } from './standby.ts'
import {
  copyTablesOnce,
  exportingSlotCreation,
  runInitialPhase,
  snapshotOptionsOf,
  refuseUnfinishedSnapshots,
  StreamSnapshots,
  type ExportedSlot,
  type SnapshotContext,
} from './snapshots.ts'
import { explainStreamingFailure, isStreamedDecodingFailure, useStreaming, type StreamingMode } from './streaming.ts'
import type { LagAlarmOptions, SlotMonitor } from '../ops/slot-monitor.ts'
import type { SlotSample } from '../ops/slot-sample.ts'
import type { PipelineMetrics } from '../ops/pipeline-metrics.ts'
import { commitClockOf, lostOr, startSlotMonitor } from './slot-watch.ts'

export type { StreamingMode }

export interface PostgresOptions extends SourceOptions {
  /** postgres:// URL. Never logged. */
  readonly url: string
  /** Drop the slot after a clean stop (the original project's `destroy_slot_after_stopping`). */
  readonly dropSlotOnExit?: boolean
  readonly statusIntervalMs?: number
  readonly connectTimeoutMs?: number
  /**
   * Streaming of in-progress transactions (protocol 2): 'auto' (the default) uses it when the
   * server has it (PostgreSQL 14 and later), 'on' requires it, 'off' never uses it (then the
   * server keeps a large transaction on its own disk until it commits, and sends it then).
   * Streamed transactions are spooled to disk until they commit, and delivered whole then.
   */
  readonly streaming?: StreamingMode
  /** Parent of the directory holding spool files of streamed transactions; default: the OS temp directory. */
  readonly spoolDirectory?: string | undefined
  /**
   * Prefixes of logical messages (`pg_logical_emit_message`) to deliver as records; `*` takes every
   * prefix. Empty (the default): none are asked for, since any role that may call the function could
   * otherwise inject records into the output. Needs PostgreSQL ≥ 14.
   */
  readonly messagePrefixes?: readonly string[] | undefined
  /**
   * Seconds between heartbeats while streaming: a transactional logical message (prefix
   * `pg_to_brokers.heartbeat`, never a record) emitted in this database, so the slot can advance
   * while its tables are idle and other databases keep the WAL moving. 0 or absent: none.
   */
  readonly heartbeatSeconds?: number | undefined
}

export interface PipelineOptions {
  readonly postgres: PostgresOptions
  readonly writer: StreamWriter
  readonly format?: RecordFormat
  readonly batch?: Partial<BatchOptions>
  readonly logger?: Logger
  /** Aborting stops reading, publishes what was read, confirms it, and resolves. */
  readonly signal?: AbortSignal
  /** Called after each confirmation with the LSN the slot may now advance to (for tests and metrics). */
  readonly onFlushed?: (lsn: Lsn) => void
  /** Called once the replication stream has started. */
  readonly onStreaming?: () => void
  /** Called when a standby starts waiting for the slot (it has connected and checked everything by then). */
  readonly onStandbyWaiting?: () => void
  /** The slot must already exist (runSupervised sets this on reconnects): a missing slot is lost, never recreated. */
  readonly resume?: boolean
  /** Snapshots: the initial one's mode, chunk size, parallel tables, progress display; default: no initial snapshot. */
  readonly snapshot?: SnapshotOptions
  /** Seconds between progress lines (info) while streaming, written even when idle; 0 turns them off; default 60. */
  readonly progressSeconds?: number | undefined
  /** Lag warning thresholds and how often the slot is read while streaming; default DEFAULT_LAG_ALARMS. */
  readonly lagAlarms?: Partial<LagAlarmOptions> | undefined
  /** Called with each reading of the slot while streaming (every lagAlarms.pollSeconds). */
  readonly onSlotSample?: ((sample: SlotSample) => void) | undefined
  /** Prometheus metrics and readiness: fed per batch, per transaction, per read and one increment per row. */
  readonly metrics?: PipelineMetrics | undefined
}

/**
 * Streams until `signal` aborts (then resolves after a clean stop) or something fails (then
 * rejects with a PgToBrokersError; nothing undelivered was confirmed). With `streaming` 'auto',
 * a server failure while decoding a streamed in-progress transaction is not final: the stream
 * starts again from the slot without streaming (the server then sends transactions at commit).
 */
export async function runPipeline(options: PipelineOptions): Promise<void> {
  const pg = options.postgres
  const logger = options.logger ?? silentLogger
  const catalog = await Catalog.open(pg.url, pg.connectTimeoutMs ?? 10_000)
  let cleanStop = false
  let monitor: SlotMonitor | undefined
  try {
    const { serverVersion } = await catalog.checkServer()
    const mode = pg.streaming ?? 'auto'
    let streaming = useStreaming(mode, serverVersion)
    // Before a slot may be created: a server without logical messages must not be left a new slot retaining WAL.
    checkServerSupports({ protoVersion: 1, streaming: false, messages: (pg.messagePrefixes ?? []).length > 0 }, serverVersion)
    // A standby waits here (before the slot may be created) until it holds the slot's lease and the slot is free.
    const standby = { slot: pg.slot, url: pg.url, logger, signal: options.signal, onWaiting: options.onStandbyWaiting }
    if (pg.standby && !(await waitForSlotLease(catalog, standby))) return
    // The writer starts only once this process may write (a standby's init must not touch what the
    // active process is writing), and before the slot: a missing Kinesis stream or Kafka topic must not leave a new slot retaining WAL.
    await options.writer.init()
    const snapshot = snapshotContextOf(options, logger)
    if (snapshot.snapshot.mode === 'initial_only') {
      await preparePublication(catalog, pg, logger)
      options.metrics?.state('starting', 'reading the initial snapshot')
      await copyTablesOnce(snapshot)
      cleanStop = true
      return
    }
    const holder: { exported?: ExportedSlot } = {}
    await prepareSource(catalog, pg, { reconnect: options.resume === true }, logger, exportingSlotCreation(snapshot, holder))
    if (holder.exported) {
      try {
        options.metrics?.state('starting', 'reading the initial snapshot')
        await runInitialPhase(snapshot, holder.exported)
      } finally {
        await holder.exported.connection.close()
      }
    }
    // Incremental snapshots need watermarks, which are logical messages: PostgreSQL 14 and later.
    const snapshots = serverVersion >= 140000 ? snapshot : await refuseUnfinishedSnapshots(snapshot)
    monitor = await startSlotMonitor(catalog, options, logger)
    for (;;) {
      try {
        await replicate(catalog, options, logger, streaming, snapshots)
        break
      } catch (error) {
        // The server ends the stream of a slot it invalidates: say so rather than reconnect to a lost slot.
        if (mode !== 'auto' || !isStreamedDecodingFailure(error) || options.signal?.aborted) throw await lostOr(monitor, error)
        // The same WAL decodes without streaming; a server fault must not stop a pipeline that did not insist on streaming.
        logger.warn('PostgreSQL failed to decode a streamed in-progress transaction; continuing without streaming', { reason: (error as Error).message })
        streaming = false
        await waitForSlotRelease(catalog, pg.slot)
      }
    }
    cleanStop = true
  } finally {
    await monitor?.stop()
    await options.writer.close().catch((error) => logger.warn('writer close failed', { error: String(error) }))
    if (cleanStop && pg.dropSlotOnExit) await dropSlot(catalog, pg, logger)
    await catalog.close()
  }
}

/** One replication connection, from START_REPLICATION until a stop or a failure; closes it and removes its spool. */
async function replicate(catalog: Catalog, options: PipelineOptions, logger: Logger, streaming: boolean, snapshot: SnapshotContext | undefined): Promise<void> {
  const pg = options.postgres
  let replication: ReplicationConnection | undefined
  let spool: SpoolDirectory | undefined
  let heartbeat: Heartbeat | undefined
  const snapshots = snapshot ? new StreamSnapshots(snapshot) : undefined
  try {
    if (streaming) spool = await SpoolDirectory.open(pg.spoolDirectory ?? temporaryDirectory(), logger)
    replication = await ReplicationConnection.open(pg.url, pg.connectTimeoutMs ?? 10_000)
    const messages = snapshots !== undefined || (pg.messagePrefixes ?? []).length > 0
    await replication.start({ slot: pg.slot, publication: pg.publication, startLsn: 0n, protoVersion: streaming ? 2 : 1, streaming, messages })
    logger.info('streaming', { slot: pg.slot, publication: pg.publication, inProgressTransactions: streaming ? 'streamed' : 'sent at commit' })
    options.onStreaming?.()
    const intervalMs = (pg.heartbeatSeconds ?? 0) * 1000
    if (intervalMs > 0) heartbeat = await Heartbeat.start({ url: pg.url, intervalMs, connectTimeoutMs: pg.connectTimeoutMs ?? 10_000, logger })
    await deliverReplicationStream(replication, catalog, spool, options, logger, snapshots)
  } finally {
    await heartbeat?.stop()
    await snapshots?.stop(new Error('the replication stream stopped'))
    await replication?.close()
    await spool?.remove()
  }
}

function snapshotContextOf(options: PipelineOptions, logger: Logger): SnapshotContext {
  const pg = options.postgres
  return {
    url: pg.url,
    connectTimeoutMs: pg.connectTimeoutMs ?? 10_000,
    slotOptions: pg,
    publication: pg.publication,
    tables: pg.tables,
    snapshot: snapshotOptionsOf(options.snapshot),
    writer: options.writer,
    format: formatOf(options),
    batch: { ...DEFAULT_BATCH_OPTIONS, ...options.batch },
    logger,
    signal: options.signal,
    metrics: options.metrics,
  }
}

/** Decodes the replication stream into records, hands them to the writer in batches, confirms what was delivered. */
async function deliverReplicationStream(
  replication: ReplicationConnection,
  catalog: Catalog,
  spool: SpoolDirectory | undefined,
  options: PipelineOptions,
  logger: Logger,
  snapshots: StreamSnapshots | undefined,
): Promise<void> {
  const metrics = options.metrics
  const counts = metrics?.streamCounters()
  const checkpoint = new Checkpoint(0n, (received, flushed, reply) => (replication.sendStatus(received, flushed, reply), metrics?.statusSent(flushed)))
  const progress = new ProgressLog(logger, { slot: options.postgres.slot }, () => ({ confirmed: checkpoint.flushed, walEnd: checkpoint.received }))
  const clock = commitClockOf(options)
  // Reading stops when the caller aborts, and as soon as a publish fails (not at the next message).
  const reading = new AbortController()
  const stopReading = () => {
    reading.abort()
    replication.interrupt()
  }
  const batcher = new Batcher(
    options.writer,
    { ...DEFAULT_BATCH_OPTIONS, ...options.batch },
    (lsn) => {
      checkpoint.markFlushed(lsn)
      progress.durable(lsn)
      clock.flushed(lsn)
      snapshots?.durable.markFlushed(lsn)
      options.onFlushed?.(lsn)
      metrics?.flushed(lsn)
    },
    stopReading,
    metrics,
  )
  const format = formatOf(options)
  const writer = options.writer
  const delivers = deliveredChanges(options.postgres)
  const windows = snapshots?.windows
  const deliverChunkRow = (row: Change) => (progress.row(), counts?.row(row), batcher.add(snapshots!.record(row)))
  const sink: ChangeSink = {
    change: (change) => {
      if (windows) {
        if (windows.isWatermark(change)) return windows.watermark(change, deliverChunkRow)
        if (windows.active) windows.observe(change)
      }
      if (!delivers(change)) return
      progress.row()
      counts?.row(change)
      clock.change(change.commitTime)
      return batcher.add({ change, data: format.encode(change), partitionKey: writer.assignChangeToPartitionKey(change) })
    },
    commit: (endLsn) => (clock.commit(endLsn), progress.commit(endLsn), counts?.commit(), batcher.commit(endLsn)),
  }
  const receiver = new ChangeReceiver(new TransactionAssembler(catalog, sink), spool, logger, reading.signal)
  const signal = options.signal
  if (signal?.aborted) reading.abort()
  signal?.addEventListener('abort', stopReading)
  checkpoint.startTimer(options.postgres.statusIntervalMs ?? 10_000)
  progress.start((options.progressSeconds ?? 60) * 1000)
  const streamEnded = metrics?.streamStarted({ lagSeconds: (now) => clock.lagSeconds(now), spooledBytes: () => receiver.spooledBytes })
  try {
    await snapshots?.start()
    for await (const messages of replication.messages(reading.signal)) {
      for (const message of messages) {
        // Stop between messages: what follows must not be handled (and confirmed) while an interrupted replay left its transaction open.
        if (reading.signal.aborted) break
        if (isXLogData(message)) {
          const pending = receiver.handle(message, XLOG_DATA_HEADER)
          if (pending) await pending
          continue
        }
        const keepalive = readKeepalive(message)
        // An open streamed transaction counts as in flight: its changes are spooled, not yet delivered.
        if (keepalive) checkpoint.keepalive(keepalive.walEnd, keepalive.replyRequested, !receiver.inFlight && batcher.idle)
      }
      metrics?.serverFrame(messages[messages.length - 1]!)
      if (batcher.failure) throw batcher.failure
    }
    if (batcher.failure) throw batcher.failure
    // Stopped on request: publish what was read, confirm what is complete.
    await batcher.drain()
    checkpoint.report(false)
    await noteConfirmed(catalog, options.postgres, formatLsn(checkpoint.flushed)).catch(() => {})
    logger.info('stopped', { confirmed: formatLsn(checkpoint.flushed) })
  } catch (error) {
    await batcher.abandon()
    throw spool ? explainStreamingFailure(error) : error
  } finally {
    checkpoint.stopTimer()
    progress.stop()
    streamEnded?.()
    signal?.removeEventListener('abort', stopReading)
    await receiver.close()
  }
}

/** One format instance per pipeline: the initial snapshot and the stream share its caches. */
const formats = new WeakMap<PipelineOptions, RecordFormat>()
function formatOf(options: PipelineOptions): RecordFormat {
  let format = formats.get(options)
  if (!format) formats.set(options, (format = options.format ?? new SeedFormat()))
  return format
}

/**
 * Which changes become records: not the tool's own slot records and snapshot progress (a publication
 * FOR ALL TABLES includes their tables), no heartbeats, and logical messages only with an allowed prefix.
 */
function deliveredChanges(pg: PostgresOptions): (change: Change) => boolean {
  const state = stateTableOf(pg)
  const snapshots = snapshotTableOf(state)
  const prefixes = new Set(pg.messagePrefixes ?? [])
  const anyPrefix = prefixes.has('*')
  return (change) => {
    const relation = change.relation
    if (relation) return relation.schema !== state.schema || (relation.name !== state.name && relation.name !== snapshots.name)
    const message = change.message
    // Heartbeats are never records, whatever the prefixes (even "*").
    return message === undefined || (message.prefix !== HEARTBEAT_PREFIX && (anyPrefix || prefixes.has(message.prefix)))
  }
}

/** The walsender may need a moment to release the slot after its connection ended (on error, too). */
async function waitForSlotRelease(catalog: Catalog, slot: string): Promise<void> {
  for (let attempt = 0; attempt < 40; attempt++) {
    if ((await catalog.slot(slot))?.activePid == null) return
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

/** The walsender may need a moment to release the slot after the connection closes. */
async function dropSlot(catalog: Catalog, pg: PostgresOptions, logger: Logger): Promise<void> {
  const slot = pg.slot
  for (let attempt = 0; attempt < 20; attempt++) {
    const info = await catalog.slot(slot)
    if (!info) return
    if (info.activePid === null) {
      await catalog.dropSlot(slot)
      await forgetSlot(catalog, pg)
      logger.info('dropped replication slot', { slot })
      return
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  logger.warn('could not drop the replication slot: it stayed active', { slot })
}
